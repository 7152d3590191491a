"""`open`: a signed remote opening, recorded before the door moves (kind `remote_open`)."""

from __future__ import annotations

from typing import Any

from firmware import payloads
from firmware.commands.context import CommandContext, Invocation
from firmware.commands.numbers import is_number
from firmware.core import prompts

MAX_REASON_CHARS = 200


def args_ok(args: dict[str, Any]) -> bool:
    """`reason` is text <= 200 characters; `seconds` a positive number."""
    reason = args.get("reason")
    seconds = args.get("seconds")
    if reason is not None and not (isinstance(reason, str) and len(reason) <= MAX_REASON_CHARS):
        return False
    return seconds is None or (is_number(seconds) and seconds > 0)


def handle(ctx: CommandContext, cmd: Invocation) -> None:
    seconds = min(float(cmd.args.get("seconds", ctx.pulse_s)), ctx.max_pulse_s)
    note = cmd.args.get("reason") if isinstance(cmd.args.get("reason"), str) else None
    payload = payloads.door_event(
        ctx.identity,
        payloads.KIND_REMOTE_OPEN,
        ctx.clock.time(),
        ctx.clock.synced(),
        open_seconds=seconds,
        operator=cmd.operator[:64] or "unknown",
        note=note,
    )
    committed = ctx.recorder.record("event", payload)
    if committed is None:
        ctx.reply(cmd.name, cmd.jti, False, "busy")
        return
    opened = ctx.door.pulse(seconds)
    ctx.indicator.show("granted", prompts.for_step(prompts.REMOTE_OPEN))
    result = {"event_id": committed["event_id"], "seq": committed["seq"], "open_seconds": opened}
    ctx.reply(cmd.name, cmd.jti, True, None, result)
