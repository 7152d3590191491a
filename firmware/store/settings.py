"""The `[outbox]` section: how long settled records are kept and when to warn."""

from __future__ import annotations

from dataclasses import dataclass

from firmware.settings import setting


@dataclass(frozen=True)
class OutboxConfig:
    retention_days: float = setting(7.0, 0.0, 365.0)
    max_rows: int = setting(200_000, 100, 10_000_000)
    high_water: float = setting(0.8, 0.1, 0.99)
