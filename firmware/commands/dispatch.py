"""One command message from `.../cmd/{name}`: refused with a reason, or verified and run.

A command delivered with the retain flag is never obeyed (MQTT 3.1.1 has no Retain Handling;
under MQTT 5 the broker is also asked not to send them). Without the record of used ids a replay
cannot be ruled out, so a failing id store refuses the command and raises a storage fault.
"""

from __future__ import annotations

import json
from typing import Any

from firmware import credentials
from firmware.commands.auth import JtiStore, JtiStoreError, verify_command
from firmware.commands.context import CommandContext, Invocation
from firmware.commands.table import COMMANDS


def run_command(
    ctx: CommandContext,
    name: str,
    payload: bytes,
    retained: bool,
    *,
    admin_keys: credentials.KeySet,
    jti_store: JtiStore,
    community_id: str,
    gate_id: str,
    now: float,
    storage_fault: Any,
) -> None:
    """Verify and run the command in `payload`; every outcome gets a cmd-result."""
    if retained:
        ctx.reply(name, None, False, "retained")
        return
    try:
        message = json.loads(payload)
        token = message["token"]
        if not isinstance(token, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        ctx.reply(name, None, False, "malformed")
        return
    try:
        result = verify_command(
            token,
            admin_keys,
            community_id=community_id,
            gate_id=gate_id,
            name=name,
            now=now,
            seen=jti_store,
        )
    except JtiStoreError as exc:
        ctx.reply(name, None, False, "busy")
        storage_fault({"what": "command_ids", "error": str(exc)[:120]})
        return
    claims = result.claims or {}
    jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
    if not result.ok:
        ctx.reply(name, jti, False, result.reason)
        return
    raw_args = claims.get("args")
    args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
    command = COMMANDS.get(name)
    if command is None:  # verify_command refuses these already
        ctx.reply(name, jti, False, "unknown_command")
        return
    command.handle(ctx, Invocation(name, jti, str(claims.get("sub", "")), args))
