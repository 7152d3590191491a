"""Validates MQTT payloads against the JSON Schemas in `mqtt_schema/` (draft 2020-12).

The schemas reference each other by `$id` (https://gatekiosk.dev/schema/<name>/v1); every one
of them is loaded from the repository into a `referencing` registry, so a `$ref` resolves
offline or fails — nothing is ever fetched from the network.

Errors come back as one line each, `<JSON path>: <what is wrong>`, e.g.
`$.pass.type: 'admin' is not one of ['resident', 'visitor', 'staff']`.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from firmware.topics import ID_PATTERN
from mqtt_schema import SCHEMA_DIR

SCHEMA_NAMES = ("event", "alarm", "state", "telemetry", "command", "cmd-result", "ack")
ID_BASE = "https://gatekiosk.dev/schema/"
_SCHEMA_FIELD = re.compile(r"gatekiosk/([a-z-]+)/v1")

# A payload small enough to publish never has this many errors; stops a hostile input from
# producing a list as long as itself, or lines as long as its strings.
_MAX_ERRORS = 20
_MAX_ERROR_CHARS = 300

# Topics (DESIGN 2.4) -> the schema of their payload. Ids are checked again here, independently
# of firmware.topics, because this module judges what the firmware actually put on the wire.
_ID = ID_PATTERN.pattern
_GATE_KINDS = "event|alarm|state|telemetry|cmd-result|ack"
_GATE_TOPIC = re.compile(rf"community/({_ID})/gate/({_ID})/({_GATE_KINDS})")
_CMD_TOPIC = re.compile(rf"community/({_ID})/gate/({_ID})/cmd/({_ID})")
_STATUS_LIST_TOPIC = re.compile(rf"community/({_ID})/status-list")
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def schema_path(name: str) -> Path:
    """The file of schema `name`, e.g. `mqtt_schema/event.v1.schema.json`."""
    return SCHEMA_DIR / f"{name}.v1.schema.json"


def schema_id(name: str) -> str:
    """The `$id` of schema `name`, e.g. `https://gatekiosk.dev/schema/event/v1`."""
    return f"{ID_BASE}{name}/v1"


@cache
def schema_registry() -> Registry:
    """Every `*.schema.json` of `mqtt_schema/`, by `$id`; no retrieval of anything else."""
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@cache
def _validator(name: str) -> Draft202012Validator:
    contents = schema_registry().contents(schema_id(name))
    return Draft202012Validator(contents, registry=schema_registry())


def _one_line(text: str) -> str:
    """Escape control characters (a key may hold a newline) and cut to a readable length."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 3] + "..."
    return text


def _describe(error: ValidationError) -> str:
    # For anyOf/oneOf the top error says only "not valid under any"; the most relevant error
    # underneath names the field and the rule.
    best = best_match([error])
    return _one_line(f"{best.json_path}: {best.message}")


def _non_finite(value: Any, path: str = "$") -> list[str]:
    """NaN and Infinity pass `type: number` in Python but are not JSON; find them."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path}: {value!r} is not a JSON number"]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _non_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _non_finite(item, f"{path}[{index}]")
    return found


def validate_as(name: str, payload: Any) -> list[str]:
    """Errors of `payload` against schema `name` (one of SCHEMA_NAMES); [] when valid.

    Raises ValueError for a `name` that is not a schema (a caller's mistake, not bad input).
    """
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema name {name!r}; expected one of {SCHEMA_NAMES}")
    try:
        errors = sorted(_describe(e) for e in _validator(name).iter_errors(payload))
        errors += [_one_line(e) for e in _non_finite(payload)]
    except RecursionError:
        return ["$: payload is nested too deeply"]
    return errors[:_MAX_ERRORS]


def schema_name(payload: Any) -> str | None:
    """The schema named by `payload["schema"]` ("gatekiosk/<name>/v1"), or None."""
    if not isinstance(payload, dict):
        return None
    field = payload.get("schema")
    if not isinstance(field, str):
        return None
    match = _SCHEMA_FIELD.fullmatch(field)
    if match is None or match.group(1) not in SCHEMA_NAMES:
        return None
    return match.group(1)


def validate(payload: Any) -> list[str]:
    """Errors of `payload` against the schema its `schema` field names; [] when valid."""
    if not isinstance(payload, dict):
        return [f"$: payload is a {type(payload).__name__}, not a JSON object"]
    name = schema_name(payload)
    if name is None:
        field = payload.get("schema", "<missing>")
        return [f"$.schema: {field!r:.80} names no known schema (gatekiosk/<name>/v1)"]
    return validate_as(name, payload)


def check(payload: Any) -> None:
    """Raise ValueError with the first error when `payload` is not valid; see `validate`."""
    errors = validate(payload)
    if errors:
        raise ValueError(errors[0])


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key: receivers would disagree on which one counts.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _decode_json(raw: bytes) -> tuple[Any, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "payload is not UTF-8"
    try:
        decoded = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
        )
    except ValueError as exc:  # JSONDecodeError is a ValueError
        return None, f"payload is not strict JSON: {exc}"
    except RecursionError:
        return None, "payload is nested too deeply"
    return decoded, None


def _topic_matches(payload: dict[str, Any], community: str, gate: str) -> list[str]:
    errors = []
    if payload.get("community_id") != community:
        errors.append(f"$.community_id: {payload.get('community_id')!r} differs from the topic's")
    if payload.get("gate_id") != gate:
        errors.append(f"$.gate_id: {payload.get('gate_id')!r} differs from the topic's")
    return errors


def validate_message(topic: str, raw: bytes) -> list[str]:
    """Errors of one MQTT message as published: topic, UTF-8, strict JSON, schema, and ids.

    The schema is chosen by the topic (DESIGN 2.4) and must agree with the `schema` field;
    `community_id`/`gate_id` must equal the topic's levels. The status-list topic must carry
    a bare compact JWS. An unknown topic is one error.
    """
    status = _STATUS_LIST_TOPIC.fullmatch(topic)
    if status is not None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return ["status-list: payload is not ASCII"]
        if _COMPACT_JWS.fullmatch(text) is None:
            return ["status-list: payload is not a bare compact JWS"]
        return []
    gate_topic = _GATE_TOPIC.fullmatch(topic)
    cmd_topic = _CMD_TOPIC.fullmatch(topic)
    if gate_topic is not None:
        community, gate, name = gate_topic.groups()
    elif cmd_topic is not None:
        community, gate, name = cmd_topic.group(1), cmd_topic.group(2), "command"
    else:
        return [f"topic {topic!r:.120} is not a gatekiosk topic"]
    payload, decode_error = _decode_json(raw)
    if decode_error is not None:
        return [decode_error]
    errors = validate_as(name, payload)
    if isinstance(payload, dict) and name not in ("command", "ack"):
        errors += _topic_matches(payload, community, gate)
    return errors
