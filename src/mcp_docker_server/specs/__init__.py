"""What a tool asks the engine to create, parsed from tool arguments into plain values (pure)."""
