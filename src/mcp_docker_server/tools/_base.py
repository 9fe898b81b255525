"""What every tool shares: the annotation presets (the application state is in ``state``)."""

from __future__ import annotations

from mcp.types import ToolAnnotations

__all__ = ["DESTRUCTIVE", "MUTATING_OPEN", "READ_ONLY"]

# idempotentHint is left out: false is its default, and it means nothing on a read-only tool.
# The other hints stay explicit, so a client that ignores the spec's defaults still sees them.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
# Mutating and may reach a registry (a missing image is pulled).
MUTATING_OPEN = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
