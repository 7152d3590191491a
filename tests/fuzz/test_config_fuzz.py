"""Configuration files, fuzzed: the loader either loads one or refuses it in one line naming the
key or the problem; no other exception, no traceback.

Structure-aware: each input starts from the full example (hardware/gatekiosk.toml.example, every
section and key) and is mutated as a table — a key set to a value of the wrong type, NaN/inf, a
huge integer, a TOML date, a value nested deep; keys and sections added, removed or renamed —
then written out as TOML and mutated as text: a line repeated (duplicate keys and tables), bytes
inserted (binary garbage, bytes that are not UTF-8), the file cut short. `config.load` reads it
from a file, as `gatekiosk run --config` does. `GATEKIOSK_FUZZ_EXAMPLES` examples per test.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware import config

from .conftest import EXAMPLES, share
from .strategies import EDGE_INTS, JSON_VALUES

pytestmark = pytest.mark.timeout(120 + EXAMPLES // 100)
# 2-8 ms of CPU an input: 10,000 each in the long profile (tests/fuzz/README.md).
NETWORK = share(1, 0.1)

EXAMPLE = Path(__file__).parents[2] / "hardware" / "gatekiosk.toml.example"
BASE: dict[str, Any] = tomllib.loads(EXAMPLE.read_text())
# A refusal is one line that starts with what it is about — a key path (`door.pulse_s`), an
# unknown key as written, `config`, or the file — then ": " or " must " and the problem
# (`device.id must match ...` comes from the id check the topics share).
SUBJECT = re.compile(r"^(.+?)(: | must )\S")


class Raw(str):
    """A TOML value written as it stands (a date, `nan`, a literal the generator cannot build)."""


RAW = st.sampled_from([
    "nan", "+inf", "-inf", "1e999", "-0.0", "0x7fffffffffffffff", "0o777", "0b101",
    "99999999999999999999999999", "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00",
    "'literal'", '"""multi\nline"""', "[]", "{}", "[[[[[[1]]]]]]", "{a = {b = {c = 1}}}",
]).map(Raw)
DEEP = st.integers(1, 300).map(lambda n: Raw("[" * n + "1" + "]" * n))
WILD = st.one_of(JSON_VALUES, EDGE_INTS, st.floats(), RAW, DEEP, st.text(max_size=300))


def toml_value(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return '""'  # TOML has no null
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # dates read back from the example


def toml_text(table: dict[str, Any]) -> str:
    lines = []
    for name, value in table.items():
        if isinstance(value, dict) and not isinstance(value, Raw):
            lines.append(f"[{json.dumps(name)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{json.dumps(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in table.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out += paths(value, (*prefix, key))
    return out


PATHS = paths(BASE)


def mutate(table: dict[str, Any], path: tuple[str, ...], op: str, value: Any) -> None:
    parent: Any = table
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(parent, dict) or path[-1] not in parent:
        return  # an earlier mutation removed or replaced it
    if op == "set":
        parent[path[-1]] = value
    elif op == "delete":
        del parent[path[-1]]
    elif op == "rename":
        parent[str(value)[:40] or "x"] = parent.pop(path[-1])
    elif op == "add":
        target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
        target[f"unknown_{len(target)}"] = value


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(PATHS), st.sampled_from(["set", "delete", "rename", "add"]), WILD),
    min_size=1, max_size=4,
)
TEXT_EDITS = st.lists(
    st.tuples(st.sampled_from(["repeat_line", "insert", "cut"]), st.integers(0, 10**6),
              st.binary(min_size=1, max_size=40)),
    max_size=3,
)


def edit(text: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    for op, at, junk in edits:
        if op == "repeat_line":
            lines = text.split(b"\n")
            line = lines[at % len(lines)]
            lines.insert((at // 7) % len(lines), line)
            text = b"\n".join(lines)
        elif op == "insert":
            i = at % (len(text) + 1)
            text = text[:i] + junk + text[i:]
        else:
            text = text[: at % (len(text) + 1)]
    return text


def load_or_refuse(path: Path, raw: bytes) -> config.Config | None:
    path.write_bytes(raw)
    try:
        return config.load(path)
    except config.ConfigError as exc:
        message = str(exc)
        subject = SUBJECT.match(message)
        assert subject and "\n" not in message, repr(message)
        return None


def test_the_example_itself_loads(tmp_path):
    assert isinstance(load_or_refuse(tmp_path / "g.toml", toml_text(BASE).encode()), config.Config)


@NETWORK
@given(mutations=MUTATIONS, edits=TEXT_EDITS)
def test_a_mutated_configuration_loads_or_is_refused_in_one_line(tmp_path, mutations, edits):
    table = json.loads(json.dumps(BASE, default=str))
    for path, op, value in mutations:
        mutate(table, path, op, value)
    raw = edit(toml_text(table).encode("utf-8", "surrogatepass"), edits)
    load_or_refuse(tmp_path / "gatekiosk.toml", raw)


@NETWORK
@given(raw=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode)))
def test_any_bytes_as_a_configuration_load_or_are_refused_in_one_line(tmp_path, raw):
    load_or_refuse(tmp_path / "gatekiosk.toml", raw)
