"""Settings: environment variables and flags, engine targets, the engines file."""
