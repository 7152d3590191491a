"""`status-list-refresh`: subscribe to the status list again (the broker re-sends it)."""

from __future__ import annotations

from typing import Any

from firmware.commands.context import CommandContext, Invocation


def args_ok(args: dict[str, Any]) -> bool:
    return True


def handle(ctx: CommandContext, cmd: Invocation) -> None:
    if ctx.link is not None:
        ctx.link.refresh_status_list()
    ctx.reply(cmd.name, cmd.jti, True, None, {"held_iat": ctx.held_status_iat()})
