"""What a command handler may use, and how it answers (cmd-result, DESIGN 2.4)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware import payloads
from firmware.clock import Clock
from firmware.ports import DoorPort, IndicatorPort, LinkPort, RecorderPort

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invocation:
    """One verified command: its name, token id, operator (`sub`) and arguments."""

    name: str
    jti: str | None
    operator: str
    args: dict[str, Any]


@dataclass
class CommandContext:
    """The gate's parts a command may act on; built once by the gate."""

    identity: payloads.Identity
    clock: Clock
    recorder: RecorderPort
    door: DoorPort
    indicator: IndicatorPort
    link: LinkPort | None
    pulse_s: float
    max_pulse_s: float
    health: Callable[[], dict[str, Any]]
    held_status_iat: Callable[[], int | None]

    def reply(
        self,
        cmd: str,
        jti: str | None,
        ok: bool,
        reason: str | None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Publish the cmd-result (not kept: dropped while offline)."""
        log.info("command %s %s%s", cmd, "ok" if ok else "refused: ", reason or "")
        if self.link is None:
            return
        self.link.publish_now(
            "cmd-result",
            payloads.cmd_result(self.identity, self.clock.time(), cmd, jti, ok, reason, result),
        )
