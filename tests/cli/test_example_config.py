"""hardware/gatekiosk.toml.example documents every key of firmware/config.py with its default."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from pathlib import Path

from firmware import config

EXAMPLE = Path(__file__).resolve().parents[2] / "hardware" / "gatekiosk.toml.example"


def sections(cls, path=""):
    """(section path, dataclass) for Config and every table inside it."""
    hints = typing.get_type_hints(cls)
    yield path, cls
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from sections(hints[f.name], f"{path}.{f.name}" if path else f.name)


def section_text(text, section):
    """The lines of `[section]` up to the next table header."""
    match = re.search(rf"^\[{re.escape(section)}\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert match, f"no [{section}] table in the example"
    return match.group(1)


def test_example_loads_and_holds_exactly_the_defaults():
    cfg = config.load(EXAMPLE)
    assert dataclasses.replace(cfg, source_hash="") == config.Config()


def test_every_key_of_every_section_is_in_the_example():
    text = EXAMPLE.read_text(encoding="utf-8")
    table = tomllib.loads(text)
    missing = []
    for path, cls in sections(config.Config):
        if not path:
            continue
        node = table
        for part in path.split("."):
            node = node.get(part, {})
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal") or f.name in node:
                continue
            default = f.default
            # TOML has no null: a key whose default is "absent" is shown commented out.
            if default is None and re.search(
                rf"^# {f.name} = ", section_text(text, path), re.M
            ):
                continue
            missing.append(f"{path}.{f.name}")
    assert missing == []


def test_the_example_has_no_key_the_loader_would_refuse():
    # An unknown key fails config.load, so loading proves it; this pins the section list too.
    table = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    top = {f.name for f in dataclasses.fields(config.Config) if not f.metadata.get("internal")}
    assert set(table) == top
