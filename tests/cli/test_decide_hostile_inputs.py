"""`gatekiosk decide` under inputs a hostile tester chose: a status list from the far future,
a decision time that is not a time."""

from __future__ import annotations

import json

import pytest

from firmware import cli, credentials
from firmware.core import status_list as sl

NOW = 1_790_000_000
URI = "https://sg.example/sl/1"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("decide-hostile")
    key = credentials.generate_keypair("k1", "EdDSA")
    (d / "issuers.jwks").write_text(json.dumps({"keys": [credentials.public_jwk(key)]}))

    def status_list(iat: int) -> str:
        claims = {
            "sub": URI,
            "iat": iat,
            "exp": iat + 3600,
            "status_list": {"bits": 2, "lst": sl.encode_lst([0] * 8)},
        }
        return credentials.sign_token(claims, key, "statuslist+jwt")

    (d / "future.jwt").write_text(status_list(NOW + 10 * 365 * 86400))
    (d / "within-skew.jwt").write_text(status_list(NOW + 299))
    claims = {
        "iss": "sg", "sub": "p-0", "pt": "resident", "iat": NOW - 60, "exp": NOW + 86400,
        "status": {"status_list": {"idx": 0, "uri": URI}},
    }
    return {"dir": d, "code": credentials.sign_token(claims, key, "gatepass+jwt")}


def decide(world, capsys, *extra: str) -> tuple[int, str, str]:
    argv = ["decide", "--jwks", str(world["dir"] / "issuers.jwks"), "--community", "sg",
            "--gate", "g1", "--temp", "36.5", "--code", world["code"], *extra]
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_a_signed_status_list_from_the_far_future_is_ignored_with_a_note(world, capsys):
    rc, out, err = decide(
        world, capsys, "--now", str(NOW), "--status-list", str(world["dir"] / "future.jwt")
    )
    assert rc == 0
    assert json.loads(out)["reasons"] == ["status_unknown"]
    assert len(err.strip().splitlines()) == 1
    assert "future.jwt" in err and "iat_in_future" in err and "ignored" in err


def test_a_status_list_dated_within_the_skew_is_used(world, capsys):
    rc, out, err = decide(
        world, capsys, "--now", str(NOW), "--status-list", str(world["dir"] / "within-skew.jwt")
    )
    assert rc == 0 and err == ""
    assert json.loads(out)["decision"] == "granted"


@pytest.mark.parametrize("now", ["nan", "inf", "-inf", "1e20", "-1"])
def test_a_decision_time_that_is_not_a_time_is_one_line_and_exit_2(world, capsys, now):
    rc, out, err = decide(world, capsys, f"--now={now}")
    assert rc == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "--now" in err
    assert "Traceback" not in err
