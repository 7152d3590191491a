"""`ping`: the gate's health, as telemetry reports it."""

from __future__ import annotations

from typing import Any

from firmware.commands.context import CommandContext, Invocation


def args_ok(args: dict[str, Any]) -> bool:
    return True


def handle(ctx: CommandContext, cmd: Invocation) -> None:
    ctx.reply(cmd.name, cmd.jti, True, None, ctx.health())
