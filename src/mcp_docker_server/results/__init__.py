"""What tools return: compact result models and the shaping that makes them."""
