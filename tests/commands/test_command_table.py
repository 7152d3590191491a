"""The one table of commands is the contract's list of commands."""

from __future__ import annotations

import json

from firmware.commands.table import COMMANDS
from mqtt_schema import SCHEMA_DIR


def test_the_command_table_is_the_schemas_list_of_command_names():
    schema = json.loads((SCHEMA_DIR / "command.v1.schema.json").read_text(encoding="utf-8"))
    assert sorted(COMMANDS) == sorted(schema["$defs"]["name"]["enum"])


def test_every_command_checks_its_arguments_and_refuses_what_it_cannot_use():
    for name, command in COMMANDS.items():
        assert command.args_ok({}) is True, name
    assert not COMMANDS["open"].args_ok({"seconds": float("inf")})
    assert not COMMANDS["open"].args_ok({"seconds": True})
    assert not COMMANDS["open"].args_ok({"reason": "x" * 201})
    assert COMMANDS["open"].args_ok({"seconds": 2.5, "reason": "delivery"})
