"""The checks of `gatekiosk selftest`, one module per part of the kiosk.

`system`: config, user, service, keys, data dir, disk, clock; `storage`: the outbox;
`devices`: thermometer, camera, relay, indicator; `network`: brokers and MQTT credentials;
`face`: the screen's page and fonts, the voice's clips and sound card.
Each check returns one `Check`, a line of the checklist; none raises for what it finds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "PASS"
WARN = "WARN"
FAIL = "FAIL"


@dataclass
class Check:
    """One line of the checklist. `data` holds the figures for --json."""

    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The line as JSON: name, status, detail and the figures."""
        return {"name": self.name, "status": self.status, "detail": self.detail, **self.data}
