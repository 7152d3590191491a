"""A fleet run's scheduled faults: `AT:ACTION[:NODE]`, seconds from the start of the traffic."""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = ("kill", "restart", "kill-all", "restart-all")


@dataclass(frozen=True)
class Fault:
    """One scheduled fault."""

    at_s: float
    action: str
    node: int | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        """`"5:kill:0"` -> Fault(5.0, "kill", 0); ValueError with one line if malformed."""
        parts = text.split(":")
        try:
            at = float(parts[0])
            action = parts[1]
            node = int(parts[2]) if len(parts) > 2 else None
        except (IndexError, ValueError) as exc:
            raise ValueError(f"fault {text!r} is not AT:ACTION[:NODE]") from exc
        if action not in ACTIONS or (action in ("kill", "restart")) != (node is not None):
            raise ValueError(f"fault {text!r}: action one of {ACTIONS}, NODE for kill/restart")
        return cls(at, action, node)

    @property
    def label(self) -> str:
        return f"{self.at_s:g}:{self.action}" + ("" if self.node is None else f":{self.node}")
