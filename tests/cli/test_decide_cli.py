"""`gatekiosk decide`: the exact interface technicians and external test vectors use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import cli, credentials
from firmware.core import b64
from firmware.core import status_list as sl
from host_sim import schemas

NOW = 1_790_000_000
URI = "https://sg.example/sl/1"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("decide")
    key = credentials.generate_keypair("k1", "EdDSA")
    (d / "issuers.jwks").write_text(json.dumps({"keys": [credentials.public_jwk(key)]}))
    values = [0] * 40
    values[7], values[8], values[9] = 1, 2, 3
    status = credentials.sign_token(
        {
            "sub": URI,
            "iat": NOW - 600,
            "exp": NOW + 3600,
            "status_list": {"bits": 2, "lst": sl.encode_lst(values)},
        },
        key,
        "statuslist+jwt",
    )
    (d / "status.jwt").write_text(status)
    other = credentials.generate_keypair("k1", "EdDSA")  # same kid, another key: a forgery
    forged = credentials.sign_token(
        {"sub": URI, "iat": NOW, "status_list": {"bits": 2, "lst": sl.encode_lst([0])}},
        other,
        "statuslist+jwt",
    )
    (d / "forged-status.jwt").write_text(forged)
    return {"dir": d, "key": key, "other": other}


def token(world, idx=0, pt="resident", key=None, form="jwt", **extra):
    """A pass signed by the community key (or `key`), as a JWT or a compact pass."""
    claims = {"iss": "sg", "sub": f"p-{idx}", "pt": pt, "iat": NOW - 60, "exp": NOW + 86400}
    if pt != "visitor":
        claims["status"] = {"status_list": {"idx": idx, "uri": URI}}
    claims.update(extra)
    for name in [name for name, value in claims.items() if value is None]:
        del claims[name]
    if form == "cwt":
        return credentials.sign_cwt_pass(claims, key or world["key"])
    return credentials.sign_token(claims, key or world["key"], "gatepass+jwt")


def decide(world, capsys, *args, status=True, temps=(36.5,), direction=None):
    argv = [
        "decide",
        "--jwks",
        str(world["dir"] / "issuers.jwks"),
        "--community",
        "sg",
        "--gate",
        "g1",
        "--now",
        str(NOW),
    ]
    if status:
        argv += ["--status-list", str(world["dir"] / "status.jwt")]
    if direction:
        argv += ["--direction", direction]
    for t in temps:
        argv += ["--temp", str(t)]
    rc = cli.main(argv + list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def event_of(out):
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    event = json.loads(lines[0])
    assert schemas.validate(event) == [], schemas.validate(event)
    return event


def test_a_valid_pass_with_a_normal_temperature_is_granted(world, capsys):
    rc, out, err = decide(world, capsys, "--code", token(world))
    assert rc == 0 and err == ""
    event = event_of(out)
    assert event["decision"] == "granted"
    assert event["reasons"] == []
    assert event["pass"] == {
        "id": "p-0",
        "type": "resident",
        "issuer": "sg",
        "status": "normal",
        "expires": NOW + 86400,
    }
    assert event["temperature"]["body_c"] == 36.5
    assert event["seq"] == 0 and set(event["stream"]) == {"0"}


@pytest.mark.parametrize(
    ("idx", "reason"),
    [
        (7, "pass_revoked"),
        (8, "home_observation"),
        (9, "centralized_observation"),
        (40, "status_unknown"),
    ],
)
def test_status_values_from_the_list_file(world, capsys, idx, reason):
    rc, out, _ = decide(world, capsys, "--code", token(world, idx))
    assert rc == 0
    assert event_of(out)["reasons"] == [reason]


@pytest.mark.parametrize(
    ("temps", "reasons"),
    [
        ((37.29,), []),
        ((37.3, 37.3), ["fever"]),
        ((37.3,), ["temperature_unavailable"]),
        ((), ["temperature_unavailable"]),
        ((37.8, 36.9), []),
    ],
)
def test_temperatures_are_successive_readings(world, capsys, temps, reasons):
    rc, out, _ = decide(world, capsys, "--code", token(world), temps=temps)
    assert rc == 0
    assert event_of(out)["reasons"] == reasons


def test_an_out_gate_does_not_need_a_temperature(world, capsys):
    rc, out, _ = decide(world, capsys, "--code", token(world), temps=(), direction="out")
    assert rc == 0
    assert event_of(out)["decision"] == "granted"


# Every decision reason a pass itself can cause, for both forms: policy sees the same claims.
FORM_TABLE = [
    ({}, "granted", []),
    ({"iss": "other"}, "denied", ["wrong_issuer"]),
    ({"gates": ["g2"]}, "denied", ["gate_not_allowed"]),
    ({"gates": ["g2", "g1"]}, "granted", []),
    ({"nbf": NOW + 301}, "denied", ["pass_not_yet_valid"]),
    ({"iat": NOW + 301}, "denied", ["pass_not_yet_valid"]),
    ({"exp": NOW - 300}, "denied", ["pass_expired"]),
    ({"exp": NOW - 299}, "granted", []),
    ({"idx": 7}, "denied", ["pass_revoked"]),
    ({"idx": 8}, "denied", ["home_observation"]),
    ({"idx": 9}, "denied", ["centralized_observation"]),
    ({"idx": 40}, "denied", ["status_unknown"]),
    ({"exp": None}, "denied", ["malformed_pass"]),
    ({"pt": "tourist"}, "denied", ["malformed_pass"]),
    ({"pt": "visitor", "jti": "00ff"}, "granted", []),
]


@pytest.mark.parametrize("form", ["jwt", "cwt"])
@pytest.mark.parametrize(("claims", "decision", "reasons"), FORM_TABLE)
def test_both_pass_forms_decide_alike(world, capsys, form, claims, decision, reasons):
    rc, out, err = decide(world, capsys, "--code", token(world, form=form, **claims))
    assert rc == 0 and err == ""
    event = event_of(out)
    assert (event["decision"], event["reasons"]) == (decision, reasons)
    if decision == "granted":
        assert event["pass"]["id"] == f"p-{claims.get('idx', 0)}"


def test_the_code_file_takes_raw_bytes(world, capsys, tmp_path):
    path = tmp_path / "code.bin"
    path.write_bytes(token(world).encode() + b"\xff")
    rc, out, _ = decide(world, capsys, "--code-file", str(path))
    assert rc == 0
    assert event_of(out)["reasons"] == ["unrecognized_code"]


def _cut_base45(code, chars):
    """A compact pass cut `chars` before its last whole base45 group ends: 2 leaves a length
    base45 cannot have, 3 a shorter but decodable text."""
    whole = 4 + (len(code) - 4) // 3 * 3
    return code[: whole - chars]


def _b64json(obj):
    return b64.encode(json.dumps(obj, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda w: (
                _b64json({"alg": "none", "kid": "k1", "typ": "gatepass+jwt"})
                + "."
                + token(w).split(".")[1]
                + "."
            ),
            "unsupported_algorithm",
        ),
        (
            lambda w: (
                _b64json({"alg": "none", "kid": "k1", "typ": "gatepass+jwt"})
                + "."
                + token(w).split(".")[1]
                + ".AAAA"
            ),
            "unsupported_algorithm",
        ),
        (lambda w: token(w, key=w["other"]), "bad_signature"),
        (lambda w: token(w, key=w["other"], form="cwt"), "bad_signature"),
        (lambda w: "x" * 1025, "unrecognized_code"),
        (lambda w: "GK1:" + "0" * 1023, "unrecognized_code"),
        (lambda w: token(w).replace(".", "..", 1), "unrecognized_code"),
        (lambda w: _cut_base45(token(w, form="cwt"), 2), "unrecognized_code"),
        (lambda w: _cut_base45(token(w, form="cwt"), 3), "malformed_pass"),
        (lambda w: token(w, form="cwt").lower(), "unrecognized_code"),
    ],
)
def test_attacks_on_the_pass_are_denied_with_their_reason(world, capsys, make, reason):
    rc, out, _ = decide(world, capsys, "--code", make(world))
    assert rc == 0
    event = event_of(out)
    assert event["decision"] == "denied"
    assert event["reasons"][0] == reason
    assert event["pass"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"--community": "SG/1"}, "community"),
        ({"--status-list": "missing.jwt"}, "cannot read"),
        ({"--code-file": "missing.bin"}, "cannot read"),
        ({"--temp": "nan"}, "--temp"),
        ({"--jwks": "status.jwt"}, "--jwks"),
    ],
)
def test_usage_errors_exit_2_with_one_line(world, capsys, overrides, message):
    options = {"--jwks": "issuers.jwks", "--community": "sg", "--gate": "g1", "--code": "abc"}
    if "--code-file" in overrides:
        del options["--code"]
    options.update(overrides)
    argv = ["decide"]
    for flag, value in options.items():
        if flag in ("--status-list", "--code-file", "--jwks"):
            value = str(world["dir"] / value)
        argv += [flag, value]
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_status_list_that_fails_verification_is_ignored_with_a_note_as_the_gate_does(
    world, capsys
):
    argv = ["--status-list", str(world["dir"] / "forged-status.jwt")]
    rc, out, err = decide(world, capsys, *argv, "--code", token(world, 0), status=False)
    assert rc == 0
    # Without a list the resident's status is unknown; the forged list's "all normal" is unused.
    assert event_of(out)["reasons"] == ["status_unknown"]
    assert len(err.strip().splitlines()) == 1
    assert "forged-status.jwt" in err and "bad_signature" in err and "ignored" in err


def test_a_status_list_that_is_not_a_token_is_ignored_too(world, capsys, tmp_path):
    junk = tmp_path / "junk.jwt"
    junk.write_text("not a token\n")
    rc, out, err = decide(
        world, capsys, "--status-list", str(junk), "--code", token(world), status=False
    )
    assert rc == 0
    assert event_of(out)["reasons"] == ["status_unknown"]
    assert "malformed_status_list" in err


def test_argument_errors_are_one_line_without_the_usage_block():
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "decide", "--community", "sg"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.binary(max_size=1200))
def test_no_code_ever_raises(world, capsys, tmp_path, code):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(code)
    rc, out, err = decide(world, capsys, "--code-file", str(path))
    assert rc == 0, err
    assert event_of(out)["decision"] == "denied"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=1100))
def test_no_compact_code_ever_raises(world, capsys, tmp_path, text):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(b"GK1:" + text.encode())
    rc, out, err = decide(world, capsys, "--code-file", str(path))
    assert rc == 0, err
    assert event_of(out)["decision"] == "denied"
