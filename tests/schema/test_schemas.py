"""The MQTT payload schemas, their examples, the AsyncAPI document, and firmware.schemas."""

from __future__ import annotations

import base64
import json
import math
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from firmware.core import reasons
from host_sim import schemas

SCHEMA_DIR = schemas.SCHEMA_DIR
EXAMPLES = SCHEMA_DIR / "examples"
INVALID = EXAMPLES / "invalid"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
COMMON_ID = "https://gatekiosk.dev/schema/common/v1"
DESIGN = SCHEMA_DIR.parent.parent / "shared" / "DESIGN.md"  # beside the repository, if present

# DESIGN 2.4, as the contract states it: topic -> (QoS, retained). Checked against DESIGN.md
# itself below whenever the shared folder is beside the repository.
DESIGN_TOPICS = {
    "community/{c}/gate/{g}/event": (1, False),
    "community/{c}/gate/{g}/alarm": (1, False),
    "community/{c}/gate/{g}/state": (1, True),
    "community/{c}/gate/{g}/telemetry": (0, False),
    "community/{c}/gate/{g}/cmd/{name}": (1, False),
    "community/{c}/gate/{g}/cmd-result": (1, False),
    "community/{c}/gate/{g}/ack": (1, False),
    "community/{c}/status-list": (1, True),
}
DESIGN_ALARMS = (
    "fever",
    "quarantine_breach",
    "door_forced",
    "door_held_open",
    "sensor_fault",
    "camera_fault",
    "storage_fault",
    "outbox_high_water",
    "ack_refused",
)
# The gate publishes these; it subscribes to the others.
GATE_SENDS = {"event", "alarm", "state", "telemetry", "cmd-result"}
# Top-level fields a payload may leave out (payloads brief); every other example field is required.
OPTIONAL_FIELDS = {"event": {"note", "operator"}, "ack": {"schema"}, "telemetry": {"wifi_rssi_dbm"}}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.schema.json"))


def _valid_examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


def _example_name(path: Path) -> str:
    """`event.denied-fever.json` -> `event`: the schema an example is written for."""
    return path.name.split(".", 1)[0]


def _invalid_manifest() -> dict[str, dict[str, str]]:
    manifest: dict[str, dict[str, str]] = _load(INVALID / "expected.json")
    return manifest


def _design_table() -> dict[str, tuple[int, bool, str]]:
    """DESIGN 2.4's topic table: topic -> (QoS, retained, payload column)."""
    rows = {}
    row = re.compile(r"^\| `(community/[^`]+)` \| ([012]) \| (yes|no) \| (.*) \|$")
    for line in DESIGN.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            topic, qos, retained, payload = match.groups()
            rows[topic] = (int(qos), retained == "yes", payload)
    return rows


def _b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _def_validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=schemas.schema_registry())


def _command_def_errors(definition: str, instance: Any) -> list[str]:
    """Errors of `instance` against `$defs/<definition>` of the command schema."""
    validator = _def_validator(f"{schemas.schema_id('command')}#/$defs/{definition}")
    return [error.message for error in validator.iter_errors(instance)]


# --- the schemas themselves -------------------------------------------------------------------


@pytest.mark.parametrize("path", _schema_files(), ids=lambda p: p.name)
def test_every_schema_is_itself_a_valid_2020_12_schema(path: Path) -> None:
    schema = _load(path)
    assert schema["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)
    name = path.name.removesuffix(".v1.schema.json")
    assert schema["$id"] == f"https://gatekiosk.dev/schema/{name}/v1"


def test_there_is_one_schema_file_per_payload_plus_the_shared_definitions() -> None:
    names = {p.name.removesuffix(".v1.schema.json") for p in _schema_files()}
    assert names == {*schemas.SCHEMA_NAMES, "common"}


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_each_payload_schema_pins_its_schema_field(name: str) -> None:
    schema = _load(schemas.schema_path(name))
    assert schema["properties"]["schema"] == {"const": f"gatekiosk/{name}/v1"}


@pytest.mark.parametrize("name", ["event", "alarm", "state", "cmd-result", "command", "ack"])
def test_payloads_other_than_telemetry_refuse_unknown_fields(name: str) -> None:
    schema = _load(schemas.schema_path(name))
    closed = schema.get("additionalProperties") is False
    closed = closed or schema.get("unevaluatedProperties") is False
    assert closed


def test_reason_enum_is_exactly_firmware_core_reasons_all() -> None:
    common = _load(SCHEMA_DIR / "common.v1.schema.json")
    assert common["$defs"]["reason"]["enum"] == list(reasons.ALL)


def test_alarm_enum_is_the_alarm_list_of_design_2_4() -> None:
    alarm = _load(schemas.schema_path("alarm"))
    assert alarm["properties"]["alarm"]["enum"] == list(DESIGN_ALARMS)


def test_schema_refs_use_ids_and_never_need_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation tried to open a URL")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    schemas.schema_registry.cache_clear()
    schemas._validator.cache_clear()
    assert schemas.validate(_load(EXAMPLES / "event.denied-fever.json")) == []
    with pytest.raises(Unresolvable):
        _def_validator("https://gatekiosk.dev/schema/nowhere/v1").validate({})


# --- valid examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", _valid_examples(), ids=lambda p: p.name)
def test_every_valid_example_validates(path: Path) -> None:
    payload = _load(path)
    name = _example_name(path)
    assert schemas.validate_as(name, payload) == []
    if "schema" in payload:
        assert schemas.schema_name(payload) == name
        assert schemas.validate(payload) == []


def test_every_payload_has_at_least_one_example() -> None:
    assert {_example_name(p) for p in _valid_examples()} == set(schemas.SCHEMA_NAMES)


def test_examples_cover_the_cases_readers_look_for() -> None:
    events = [_load(p) for p in EXAMPLES.glob("event.*.json")]
    cases = {(e["kind"], e["decision"], tuple(e["reasons"])) for e in events}
    assert ("access", "granted", ()) in cases
    assert ("access", "denied", ("fever",)) in cases
    assert any(kind == "exit_request" for kind, _, _ in cases)
    assert any(kind == "remote_open" for kind, _, _ in cases)
    alarms = {_load(p)["alarm"] for p in EXAMPLES.glob("alarm.*.json")}
    assert {"fever", "door_forced"} <= alarms
    states = {_load(p)["state"] for p in EXAMPLES.glob("state.*.json")}
    assert states == {"online", "offline"}


def test_example_events_and_alarms_are_numbered_in_one_gap_free_stream() -> None:
    records = [_load(p) for p in sorted(EXAMPLES.glob("event.*.json"))]
    records += [_load(p) for p in sorted(EXAMPLES.glob("alarm.*.json"))]
    assert len({r["stream"] for r in records}) == 1
    assert sorted(r["seq"] for r in records) == list(range(1, len(records) + 1))
    event_ids = {r["event_id"] for r in records if r["schema"] == "gatekiosk/event/v1"}
    fever = _load(EXAMPLES / "alarm.fever.json")
    assert fever["related_event_id"] in event_ids


@pytest.mark.parametrize("path", _valid_examples(), ids=lambda p: p.name)
def test_leaving_out_any_required_field_of_an_example_is_caught(path: Path) -> None:
    payload = _load(path)
    name = _example_name(path)
    for field in set(payload) - OPTIONAL_FIELDS.get(name, set()):
        shortened = {k: v for k, v in payload.items() if k != field}
        assert schemas.validate_as(name, shortened), f"{field} could be left out"


@pytest.mark.parametrize("path", _valid_examples(), ids=lambda p: p.name)
def test_an_unknown_nested_field_is_caught_in_every_payload(path: Path) -> None:
    payload = dict(_load(path), holder={"name": "Li Wei"})
    assert schemas.validate_as(_example_name(path), payload)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("command.*.json")), ids=lambda p: p.name)
def test_example_command_tokens_carry_a_valid_header_and_claims(path: Path) -> None:
    header, claims, signature = _load(path)["token"].split(".")
    assert _command_def_errors("header", _b64url_json(header)) == []
    decoded = _b64url_json(claims)
    assert _command_def_errors("claims", decoded) == []
    assert decoded["cmd"] == path.name.split(".")[1]
    assert decoded["exp"] - decoded["iat"] <= 60
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64  # an Ed25519 signature


def test_open_command_claims_need_a_reason_in_their_args() -> None:
    claims = {
        "iss": "maple-court",
        "sub": "ops-07",
        "aud": "north-1",
        "cmd": "open",
        "jti": "j-1",
        "iat": 1_795_316_700,
        "exp": 1_795_316_730,
        "args": {"seconds": 5},
    }
    assert _command_def_errors("claims", claims) == ["'reason' is a required property"]


# --- invalid examples -------------------------------------------------------------------------


def test_every_invalid_example_states_why_it_must_fail() -> None:
    on_disk = {p.name for p in INVALID.glob("*.json")} - {"expected.json"}
    manifest = _invalid_manifest()
    assert set(manifest) == on_disk
    assert all(entry["why"] and entry["path"].startswith("$") for entry in manifest.values())


@pytest.mark.parametrize("file", sorted(_invalid_manifest()))
def test_every_invalid_example_fails_for_its_one_stated_reason(file: str) -> None:
    expected = _invalid_manifest()[file]
    errors = schemas.validate_as(expected["schema"], _load(INVALID / file))
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected["path"] + ": "), errors


# --- host_sim.schemas API ---------------------------------------------------------------------


def test_a_payload_without_schema_field_gets_one_error() -> None:
    ack = _load(EXAMPLES / "ack.json")
    errors = schemas.validate(ack)
    assert len(errors) == 1 and errors[0].startswith("$.schema: ")


@pytest.mark.parametrize(
    "field", ["gatekiosk/weather/v1", "gatekiosk/event/v2", "gatekiosk/event", 7, None]
)
def test_an_unknown_schema_field_gets_one_error(field: object) -> None:
    payload = dict(_load(EXAMPLES / "event.access-granted.json"), schema=field)
    assert len(schemas.validate(payload)) == 1


@pytest.mark.parametrize("payload", [[], "event", 3, None])
def test_a_payload_that_is_not_an_object_gets_one_error(payload: object) -> None:
    assert len(schemas.validate(payload)) == 1


def test_validate_as_refuses_a_name_that_is_not_a_schema() -> None:
    with pytest.raises(ValueError, match="unknown schema name"):
        schemas.validate_as("common", {})


def test_errors_name_the_json_path_of_the_offending_value() -> None:
    event = _load(EXAMPLES / "event.access-granted.json")
    event["pass"]["type"] = "admin"
    assert schemas.validate(event) == [
        "$.pass.type: 'admin' is not one of ['resident', 'visitor', 'staff']"
    ]


def test_check_raises_the_first_error_and_passes_a_valid_payload() -> None:
    event = _load(EXAMPLES / "event.access-granted.json")
    schemas.check(event)
    event["seq"] = -1
    with pytest.raises(ValueError, match=r"^\$\.seq: -1 is less than the minimum of 0$"):
        schemas.check(event)


def test_nan_and_infinity_are_refused_because_they_are_not_json() -> None:
    event = _load(EXAMPLES / "event.denied-fever.json")
    event["temperature"]["body_c"] = math.nan
    event["temperature"]["object_c"] = math.inf
    assert schemas.validate(event) == [
        "$.temperature.object_c: inf is not a JSON number",
        "$.temperature.body_c: nan is not a JSON number",
    ]


def test_telemetry_takes_extra_flat_gauges_but_keeps_names_tidy() -> None:
    telemetry = _load(EXAMPLES / "telemetry.normal.json")
    assert schemas.validate(dict(telemetry, sd_card_wear_pct=12.5)) == []
    assert schemas.validate(dict(telemetry, **{"SD Wear": 12.5}))


def test_a_pass_without_status_reference_has_status_null() -> None:
    event = _load(EXAMPLES / "event.access-granted.json")
    event["pass"] = {"id": "v-1", "type": "visitor", "issuer": "maple-court", "status": None}
    assert schemas.validate(event) == []


def test_a_granted_command_result_names_no_refusal_reason() -> None:
    result = _load(EXAMPLES / "cmd-result.open-ok.json")
    assert schemas.validate(dict(result, reason="busy")) == ["$.reason: None was expected"]


# --- validate_message: what was actually on the wire ------------------------------------------

TOPIC = "community/maple-court/gate/north-1/"


def _raw(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("topic", "example"),
    [
        (TOPIC + "event", "event.remote-open.json"),
        (TOPIC + "alarm", "alarm.fever.json"),
        (TOPIC + "state", "state.offline.json"),
        (TOPIC + "telemetry", "telemetry.normal.json"),
        (TOPIC + "cmd/open", "command.open.json"),
        (TOPIC + "cmd-result", "cmd-result.refused-expired.json"),
        (TOPIC + "ack", "ack.json"),
    ],
)
def test_a_message_on_its_own_topic_is_valid(topic: str, example: str) -> None:
    assert schemas.validate_message(topic, _raw(example)) == []


def test_the_status_list_topic_carries_a_bare_jwt() -> None:
    token = _load(EXAMPLES / "command.ping.json")["token"]
    assert schemas.validate_message("community/maple-court/status-list", token.encode()) == []
    as_json = json.dumps({"token": token}).encode()
    assert schemas.validate_message("community/maple-court/status-list", as_json)


def test_a_payload_on_another_kinds_topic_is_caught() -> None:
    errors = schemas.validate_message(TOPIC + "alarm", _raw("event.access-granted.json"))
    assert "$.schema: 'gatekiosk/alarm/v1' was expected" in errors


def test_ids_that_differ_from_the_topic_are_caught() -> None:
    errors = schemas.validate_message(
        "community/maple-court/gate/south-2/event", _raw("event.access-granted.json")
    )
    assert errors == ["$.gate_id: 'north-1' differs from the topic's"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe{}", "payload is not UTF-8"),
        (b'{"stream": "5f0c9a2e7b13d4a8", "through_seq": NaN}', "payload is not strict JSON"),
        (b'{"stream": "5f0c9a2e7b13d4a8", "stream": "00", "through_seq": 1}', "duplicate key"),
        (b'{"stream": ', "payload is not strict JSON"),
    ],
)
def test_bytes_that_are_not_strict_json_are_one_error(raw: bytes, error: str) -> None:
    errors = schemas.validate_message(TOPIC + "ack", raw)
    assert len(errors) == 1 and error in errors[0]


@pytest.mark.parametrize(
    "topic",
    [
        "community/maple-court/gate/north-1/events",
        "community/maple-court/gate/north+1/event",
        "community/maple-court/gate/north-1/cmd/open/now",
        "community/Maple/status-list",
        "",
    ],
)
def test_a_topic_outside_the_tree_is_one_error(topic: str) -> None:
    errors = schemas.validate_message(topic, _raw("event.access-granted.json"))
    assert len(errors) == 1 and "not a gatekiosk topic" in errors[0]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON_VALUES, name=st.sampled_from(schemas.SCHEMA_NAMES))
@example(payload={"\n": []}, name="telemetry")  # a key holding a newline
@example(payload={"stream": "x" * 5000}, name="ack")
def test_any_value_gets_a_list_of_one_line_errors_never_an_exception(
    payload: object, name: str
) -> None:
    if isinstance(payload, dict):
        payload["schema"] = f"gatekiosk/{name}/v1"
    errors = schemas.validate(payload)
    assert all(isinstance(e, str) and e.isprintable() and len(e) <= 300 for e in errors)
    assert len(errors) <= 20


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=200), kind=st.sampled_from(["event", "ack", "cmd/open"]))
def test_any_bytes_on_a_gate_topic_never_raise(raw: bytes, kind: str) -> None:
    errors = schemas.validate_message(TOPIC + kind, raw)
    assert errors and all(isinstance(e, str) for e in errors)


# --- the AsyncAPI document --------------------------------------------------------------------

ASYNCAPI = SCHEMA_DIR / "asyncapi.yaml"
TEMPLATE_NAMES = {"{c}": "{communityId}", "{g}": "{gateId}", "{name}": "{name}"}


def _as_asyncapi_address(design_topic: str) -> str:
    for short, long in TEMPLATE_NAMES.items():
        design_topic = design_topic.replace(short, long)
    return design_topic


def test_asyncapi_addresses_are_design_2_4s_eight_topics_without_a_yaml_library() -> None:
    # A plain-text look, so this much is checked even where PyYAML is not installed.
    text = ASYNCAPI.read_text(encoding="utf-8")
    addresses = re.findall(r"^    address: '([^']+)'$", text, flags=re.MULTILINE)
    assert sorted(addresses) == sorted(_as_asyncapi_address(t) for t in DESIGN_TOPICS)
    for ref in re.findall(r"\$ref: '\./([^'#]+)'", text):
        assert (SCHEMA_DIR / ref).is_file(), ref


@pytest.mark.skipif(not DESIGN.is_file(), reason="shared/DESIGN.md is not beside the repository")
def test_the_topic_and_alarm_lists_here_are_design_2_4s() -> None:
    table = _design_table()
    assert {t: (q, r) for t, (q, r, _) in table.items()} == DESIGN_TOPICS
    alarms = table["community/{c}/gate/{g}/alarm"][2]
    # Each item is the alarm's name, maybe followed by a note in parentheses.
    assert tuple(a.split("(")[0].strip() for a in alarms.split(",")) == DESIGN_ALARMS


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    return document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _resolve(document: dict[str, Any], ref: str) -> Any:
    if ref.startswith("#"):
        return _pointer(document, ref[1:])
    path, _, fragment = ref.partition("#")
    return _pointer(_load(SCHEMA_DIR / path), fragment)


def test_asyncapi_is_version_3_0_0_with_mqtt_servers(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["servers"]
    state_address = asyncapi["channels"]["state"]["address"]
    for server in asyncapi["servers"].values():
        assert server["protocol"] in ("mqtt", "secure-mqtt")
        will = server["bindings"]["mqtt"]["lastWill"]
        assert (will["topic"], will["qos"], will["retain"]) == (state_address, 1, True)


def test_every_asyncapi_ref_resolves(asyncapi: dict[str, Any]) -> None:
    refs = _refs(asyncapi)
    assert len(refs) > 30
    for ref in refs:
        try:
            assert _resolve(asyncapi, ref) is not None, ref
        except (KeyError, FileNotFoundError) as exc:
            pytest.fail(f"{ref} does not resolve: {exc!r}")


def test_asyncapi_channels_are_the_eight_topics_with_their_parameters(
    asyncapi: dict[str, Any],
) -> None:
    channels = asyncapi["channels"]
    addresses = sorted(c["address"] for c in channels.values())
    assert addresses == sorted(_as_asyncapi_address(t) for t in DESIGN_TOPICS)
    for channel in channels.values():
        in_address = set(re.findall(r"\{(\w+)\}", channel["address"]))
        assert set(channel.get("parameters", {})) == in_address, channel["address"]
        assert channel["messages"]


def test_asyncapi_operations_have_design_qos_and_retain_from_the_gates_side(
    asyncapi: dict[str, Any],
) -> None:
    by_address = {_as_asyncapi_address(t): qr for t, qr in DESIGN_TOPICS.items()}
    covered = set()
    for name, operation in asyncapi["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        channel = _resolve(asyncapi, channel_ref)
        address = channel["address"]
        kind = address.split("/")[-1] if "/cmd/" not in address else "cmd"
        binding = operation["bindings"]["mqtt"]
        assert (binding["qos"], binding["retain"]) == by_address[address], name
        expected_action = "send" if kind in GATE_SENDS else "receive"
        assert operation["action"] == expected_action, name
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
        covered.add(address)
    assert covered == set(by_address)


def test_asyncapi_messages_point_at_the_payload_schemas(asyncapi: dict[str, Any]) -> None:
    referenced = []
    for message in asyncapi["components"]["messages"].values():
        payload = message["payload"]
        assert payload["schemaFormat"] == "application/schema+json;version=draft-2020-12"
        ref = payload["schema"].get("$ref")
        if ref is None:  # the status list: a bare JWT string, described inline
            assert payload["schema"]["type"] == "string"
            continue
        schema = _resolve(asyncapi, ref)
        referenced.append(schema["$id"].split("/")[-2])
        assert message["name"] == referenced[-1]
    assert sorted(referenced) == sorted(schemas.SCHEMA_NAMES)


def test_asyncapi_command_names_are_the_command_schemas(asyncapi: dict[str, Any]) -> None:
    names = asyncapi["components"]["parameters"]["commandName"]["enum"]
    command = _load(schemas.schema_path("command"))
    assert names == command["$defs"]["name"]["enum"]
