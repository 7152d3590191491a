"""One command message from `.../cmd/{name}`: refused with a reason, or verified and run.

A command delivered with the retain flag is never obeyed (MQTT 3.1.1 has no Retain Handling;
under MQTT 5 the broker is also asked not to send them). Without the record of used ids a replay
cannot be ruled out, so a failing id store refuses the command (`busy`, with the token's jti:
its signature was checked first) and raises a storage fault.

Bounds before any work: a payload over `MAX_COMMAND_BYTES` is `malformed` unread, and so is one
nested deeper than `MAX_DEPTH` (counted on the raw bytes, before `json.loads` builds anything).
No command, however made, raises out of here: the person at the gate is never dropped for it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from firmware import credentials
from firmware.commands.auth import JtiStore, verify_command
from firmware.commands.context import CommandContext, Invocation
from firmware.commands.table import COMMANDS
from firmware.gate.inbox import MAX_COMMAND_BYTES

log = logging.getLogger(__name__)

# A command is {"token": "..."}: depth 1. Anything much deeper is not one of ours.
MAX_DEPTH = 8


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of JSON arrays and objects in `raw` (brackets inside strings are
    skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def read_token(payload: bytes) -> str | None:
    """The command's token, or None when the payload is not a bounded `{"token": str}`."""
    if len(payload) > MAX_COMMAND_BYTES or nesting_depth(payload) > MAX_DEPTH:
        return None
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    token = message.get("token") if isinstance(message, dict) else None
    return token if isinstance(token, str) else None


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
    token = read_token(payload)
    if token is None:
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
    except Exception:  # verify_command never raises by contract; a bug must not either
        log.exception("command %s: verification failed unexpectedly", name)
        ctx.reply(name, None, False, "malformed")
        return
    if result.store_error is not None:
        ctx.reply(name, result.jti, False, "busy")
        storage_fault({"what": "command_ids", "error": result.store_error[:120]})
        return
    if not result.ok:
        ctx.reply(name, result.jti, False, result.reason)
        return
    claims = result.claims or {}
    raw_args = claims.get("args")
    args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
    command = COMMANDS.get(name)
    if command is None:  # verify_command refuses these already
        ctx.reply(name, result.jti, False, "unknown_command")
        return
    command.handle(ctx, Invocation(name, result.jti, str(claims.get("sub", "")), args))
