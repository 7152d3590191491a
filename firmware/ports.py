"""What the gate and its commands need of the door, the indicator, the MQTT link and the
recorder: the ports the shell is wired through (DESIGN Part 1, 2)."""

from __future__ import annotations

from typing import Any, Protocol


class DoorPort(Protocol):
    def pulse(self, seconds: float | None = None) -> float: ...
    def lock(self) -> None: ...
    def tick(self) -> None: ...


class IndicatorPort(Protocol):
    def show(
        self,
        outcome: str,
        text_by_lang: dict[str, str] | None = None,
        *,
        body_c: float | None = None,
        pass_type: str | None = None,
        unit: str | None = None,
    ) -> None: ...


class LinkPort(Protocol):
    @property
    def connected(self) -> bool: ...
    def status(self) -> dict[str, Any]: ...
    def publish_now(
        self, kind: str, payload: dict[str, Any], qos: int = 1, retain: bool = False
    ) -> bool: ...
    def refresh_status_list(self) -> None: ...


class RecorderPort(Protocol):
    def record(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None: ...
