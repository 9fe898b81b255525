"""Development containers through the Dev Containers CLI (see cli.py, gate.py, shim.py)."""
