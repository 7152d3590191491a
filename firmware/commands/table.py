"""The one table of MQTT commands: name -> arguments check, handler.

Adding a command is one module with `args_ok` and `handle`, and one row here; a test keeps
this table equal to the `name` enum in mqtt_schema/command.v1.schema.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.commands import open_door, ping, status_list_refresh
from firmware.commands.context import CommandContext, Invocation


@dataclass(frozen=True)
class Command:
    args_ok: Callable[[dict[str, Any]], bool]
    handle: Callable[[CommandContext, Invocation], None]


COMMANDS: dict[str, Command] = {
    "open": Command(open_door.args_ok, open_door.handle),
    "ping": Command(ping.args_ok, ping.handle),
    "status-list-refresh": Command(status_list_refresh.args_ok, status_list_refresh.handle),
}
