"""How a component declares its configuration section: a frozen dataclass whose fields carry
their bounds. The one loader (`firmware.config`) reads these declarations, so what it accepts is
exactly what the component accepts (ESPHome's idea: each component owns its schema).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    **extra: Any,
) -> Any:
    """A field with inclusive bounds, and optionally `choices`, `item_choices`, `item_pattern`,
    checked at load time."""
    meta = {"low": low, "high": high, **extra}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def internal(default: Any) -> Any:
    """A field the component uses but a configuration file may not set."""
    return field(default=default, metadata={"internal": True})
