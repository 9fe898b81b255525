"""The base of every tool output: compact and frozen.

Field names are short on purpose: every byte a tool returns is paid for in tokens. Optional
fields default to ``None`` and are dropped from the text the model reads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Compact"]


class Compact(BaseModel):
    """A tool output: frozen, no unknown fields."""

    # defer_build: a model's validator is built at its first use, not at import (start-up).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
