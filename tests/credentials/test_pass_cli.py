"""`gatekiosk pass` end to end through firmware.cli.main: keygen, issue, status-list, inspect."""

from __future__ import annotations

import json
import stat

import base45
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware import cli, credentials
from firmware.core import b64

NOW = 1_767_225_600
URI = "https://sunshine-garden.example/sl/1"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI; (exit status, stdout, stderr). argparse errors exit through SystemExit."""
    try:
        code = cli.main(["pass", *map(str, argv)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def keyfiles(tmp_path, capsys):
    private, public = tmp_path / "private.jwks", tmp_path / "public.jwks"
    code, _out, err = run(
        capsys, "keygen", "--kid", "sg1", "--out", private, "--public-out", public
    )
    assert (code, err) == (0, "")
    return private, public


def _issue_with_stderr(capsys, private, *extra: str) -> tuple[str, str]:
    """Issue a pass; (the token printed, what went to stderr)."""
    code, out, err = run(
        capsys,
        "issue",
        "--key",
        private,
        "--community",
        "sunshine-garden",
        "--id",
        "7QK2M9XH4D1P6B3Z",
        "--now",
        str(NOW),
        *extra,
    )
    assert code == 0, err
    return out.rstrip("\n"), err


def _issue(capsys, private, *extra: str) -> str:
    return _issue_with_stderr(capsys, private, *extra)[0]


RESIDENT = ("--type", "resident", "--status-idx", "12345", "--status-uri", URI, "--unit", "3-2-501")


def test_keygen_writes_a_private_jwks_readable_only_by_its_owner(keyfiles):
    private, public = keyfiles
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    private_jwk = json.loads(private.read_text())["keys"][0]
    public_jwk = json.loads(public.read_text())["keys"][0]
    assert private_jwk["kid"] == "sg1" and private_jwk["crv"] == "Ed25519" and "d" in private_jwk
    assert "d" not in public_jwk and public_jwk["x"] == private_jwk["x"]


def test_keygen_refuses_to_overwrite_without_force(keyfiles, capsys):
    private, _public = keyfiles
    before = private.read_text()
    code, _out, err = run(capsys, "keygen", "--kid", "sg2", "--out", private)
    assert code == 2 and "exists" in err and "--force" in err
    assert private.read_text() == before
    code, _, _ = run(capsys, "keygen", "--kid", "sg2", "--out", private, "--force")
    assert code == 0
    assert json.loads(private.read_text())["keys"][0]["kid"] == "sg2"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_keygen_refuses_when_only_the_public_file_exists_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "public.jwks").write_text("keep")
    code, _, err = run(
        capsys,
        "keygen",
        "--kid",
        "k",
        "--out",
        tmp_path / "private.jwks",
        "--public-out",
        tmp_path / "public.jwks",
    )
    assert code == 2 and "public.jwks exists" in err
    assert not (tmp_path / "private.jwks").exists()


def test_keygen_makes_es256_keys(tmp_path, capsys):
    code, _, _ = run(
        capsys,
        "keygen",
        "--kid",
        "sg-es",
        "--alg",
        "ES256",
        "--out",
        tmp_path / "p.jwks",
        "--public-out",
        tmp_path / "pub.jwks",
    )
    assert code == 0
    private = tmp_path / "p.jwks"
    token = _issue(capsys, private, *RESIDENT)
    keys = credentials.KeySet.load(tmp_path / "pub.jwks")
    result = credentials.verify_pass(token, keys)
    assert result.ok and result.header["alg"] == "ES256"


def test_an_issued_resident_pass_verifies_with_the_public_jwks(keyfiles, capsys):
    private, public = keyfiles
    token = _issue(capsys, private, *RESIDENT)
    result = credentials.verify_pass(token, credentials.KeySet.load(public))
    assert result.ok
    assert result.claims == {
        "iss": "sunshine-garden",
        "sub": "7QK2M9XH4D1P6B3Z",
        "pt": "resident",
        "iat": NOW,
        "exp": NOW + 365 * 86400,
        "status": {"status_list": {"idx": 12345, "uri": URI}},
        "unit": "3-2-501",
    }


def test_a_jwt_pass_is_printed_without_whitespace(keyfiles, capsys):
    token = _issue(capsys, keyfiles[0], *RESIDENT, "--format", "jwt")
    assert token.count(".") == 2 and " " not in token
    for part in token.split(".")[:2]:
        text = b64.decode(part).decode()
        assert " " not in text and "\n" not in text
    assert len(token) < 450  # header, claims and signature only as needed


def test_a_visitor_gets_a_single_use_jti_by_default(keyfiles, capsys):
    private, public = keyfiles
    first = _issue(capsys, private, "--type", "visitor", "--gates", "north-1,south-2")
    second = _issue(capsys, private, "--type", "visitor", "--gates", "north-1,south-2")
    keys = credentials.KeySet.load(public)
    claims = [credentials.verify_pass(t, keys).claims for t in (first, second)]
    assert claims[0]["jti"] != claims[1]["jti"]
    assert claims[0]["gates"] == ["north-1", "south-2"]
    assert claims[0]["exp"] == NOW + 24 * 3600
    assert "status" not in claims[0]


def test_a_reusable_visitor_pass_has_no_jti_and_explicit_values_are_kept(keyfiles, capsys):
    private, public = keyfiles
    keys = credentials.KeySet.load(public)
    reusable = _issue(capsys, private, "--type", "visitor", "--reusable")
    assert "jti" not in credentials.verify_pass(reusable, keys).claims
    explicit = ("--jti", "v-0042", "--valid-from", str(NOW + 3600), "--valid-for", "12h")
    as_jwt = _issue(capsys, private, "--type", "visitor", *explicit, "--format", "jwt")
    claims = credentials.verify_pass(as_jwt, keys).claims
    assert (claims["jti"], claims["nbf"], claims["exp"]) == ("v-0042", NOW + 3600, NOW + 13 * 3600)
    # A compact pass carries the jti's bytes as its cti; gates read them back as hex.
    compact = _issue(capsys, private, "--type", "visitor", *explicit)
    claims = credentials.verify_pass(compact, keys).claims
    assert (claims["jti"], claims["nbf"]) == (b"v-0042".hex(), NOW + 3600)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("90s", 90), ("45m", 2700), ("12h", 43200), ("30d", 2592000)],
)
def test_valid_for_units(keyfiles, capsys, text, seconds):
    private, public = keyfiles
    token = _issue(capsys, private, *RESIDENT, "--valid-for", text)
    claims = credentials.verify_pass(token, credentials.KeySet.load(public)).claims
    assert claims["exp"] - claims["iat"] == seconds


@pytest.mark.parametrize("form", ["cwt", "jwt"])
def test_qr_png_decodes_back_to_the_printed_token_at_level_m(keyfiles, capsys, tmp_path, form):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    png = tmp_path / "pass.png"
    code, out, err = run(
        capsys,
        "issue",
        "--key",
        keyfiles[0],
        "--community",
        "sunshine-garden",
        "--id",
        "7QK2M9XH4D1P6B3Z",
        "--now",
        str(NOW),
        *RESIDENT,
        "--format",
        form,
        "--qr",
        png,
    )
    assert code == 0
    assert "QR" in err and "-M" in err
    found = zxingcpp.read_barcodes(Image.open(png))
    assert [r.text for r in found] == [out.rstrip("\n")]
    assert found[0].ec_level == "M"


def test_a_key_file_with_several_keys_needs_a_kid(tmp_path, capsys):
    both = [credentials.generate_keypair("a", "EdDSA"), credentials.generate_keypair("b", "ES256")]
    path = tmp_path / "two.jwks"
    path.write_text(json.dumps({"keys": both}))
    code, _, err = run(
        capsys, "issue", "--key", path, "--community", "c", "--id", "p", "--type", "visitor"
    )
    assert code == 2 and "--kid" in err
    token = _issue(capsys, path, "--kid", "b", "--type", "visitor")
    assert credentials.decode_unverified(token)[0]["kid"] == "b"


def _write_statuses(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "s.csv",
            "index,status\n# comment\n\n3,revoked\n5, 2\n9,centralized_observation\n"
            "10,home_observation\n11,normal\n",
        ),
        ("s.json", '{"3": 1, "5": "home_observation", "9": 3, "10": 2, "11": 0}'),
        ("s.json", "[0, 0, 0, 1, 0, 2, 0, 0, 0, 3, 2, 0]"),
    ],
)
def test_status_list_round_trip(keyfiles, capsys, tmp_path, name, text):
    private, public = keyfiles
    source = _write_statuses(tmp_path, name, text)
    out_path = tmp_path / "list.jwt"
    code, _out, err = run(
        capsys,
        "status-list",
        "--key",
        private,
        "--uri",
        URI,
        "--in",
        source,
        "--ttl",
        "600",
        "--now",
        str(NOW),
        "--out",
        out_path,
    )
    assert code == 0, err
    result = credentials.verify_status_list_token(
        out_path.read_text().strip(), credentials.KeySet.load(public)
    )
    assert result.ok
    decoded = result.status_list
    assert (decoded.uri, decoded.iat, decoded.exp, decoded.ttl) == (URI, NOW, NOW + 86400, 600)
    expected = [0, 0, 0, 1, 0, 2, 0, 0, 0, 3, 2, 0]
    assert [decoded.status(i) for i in range(12)] == expected


def test_status_list_size_pads_the_list(keyfiles, capsys, tmp_path):
    private, public = keyfiles
    source = _write_statuses(tmp_path, "s.csv", "2,1\n")
    out_path = tmp_path / "list.jwt"
    code, _, err = run(
        capsys,
        "status-list",
        "--key",
        private,
        "--uri",
        URI,
        "--in",
        source,
        "--size",
        "100000",
        "--out",
        out_path,
    )
    assert code == 0, err
    decoded = credentials.verify_status_list_token(
        out_path.read_text().strip(), credentials.KeySet.load(public)
    ).status_list
    assert len(decoded) >= 100_000
    assert decoded.status(2) == 1 and decoded.status(99_999) == 0


def test_inspect_labels_its_output_unverified(keyfiles, capsys):
    token = _issue(capsys, keyfiles[0], *RESIDENT)
    code, out, _err = run(capsys, "inspect", token)
    report = json.loads(out)
    assert code == 0
    assert report["verified"] is False and "UNVERIFIED" in report["note"]
    assert report["claims"]["sub"] == "7QK2M9XH4D1P6B3Z"
    assert report["times_utc"]["iat"] == "2026-01-01T00:00:00Z"


def test_inspect_with_keys_verifies_and_flags_a_forged_jwt(keyfiles, capsys):
    private, public = keyfiles
    token = _issue(capsys, private, *RESIDENT, "--format", "jwt")
    code, out, _ = run(capsys, "inspect", token, "--keys", public)
    assert code == 0 and json.loads(out)["verified"] is True
    head, body, signature = token.split(".")
    tampered = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
    code, out, _ = run(capsys, "inspect", tampered, "--keys", public)
    report = json.loads(out)
    assert code == 1 and report["verified"] is False and "bad_signature" in report["note"]


BAD_INVOCATIONS = [
    ("issue", "--community", "Sunshine", "--id", "p1", "--type", "visitor"),
    ("issue", "--community", "a/b", "--id", "p1", "--type", "visitor"),
    ("issue", "--community", "c", "--id", "has space", "--type", "visitor"),
    ("issue", "--community", "c", "--id", "p" * 65, "--type", "visitor"),
    ("issue", "--community", "c", "--id", "p1", "--type", "resident"),
    ("issue", "--community", "c", "--id", "p1", "--type", "staff", "--status-idx", "3"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--status-uri", "ftp://x"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--gates", "north-1,,b"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--gates", "N1"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--gates", "a,a"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--valid-for", "2w"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--valid-for", "0"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--status-idx", "-1"),
    ("issue", "--community", "c", "--id", "p1", "--type", "tourist"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--jti", "x", "--reusable"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--unit", ""),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--kid", "nope"),
    ("issue", "--community", "c", "--id", "p1", "--type", "visitor", "--now", "yesterday"),
    (
        "issue",
        "--community",
        "c",
        "--id",
        "p1",
        "--type",
        "visitor",
        "--gates",
        ",".join(f"gate-number-{i:03d}" for i in range(60)),
    ),
    ("issue", "--community", "c"),
    ("frobnicate",),
    ("inspect", "not-a-token"),
    ("inspect", "a.b.c"),
]


@pytest.mark.parametrize("argv", BAD_INVOCATIONS)
def test_bad_input_is_one_line_exit_2_and_no_traceback(keyfiles, capsys, argv):
    private, _ = keyfiles
    if argv[0] == "issue" and len(argv) > 2:
        argv = (argv[0], "--key", str(private), *argv[1:])
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "error" in err


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("s.csv", "1,0\n2,7\n", "line 2"),
        ("s.csv", "1,0\n\n# c\nx,1\n", "line 4"),
        ("s.csv", "1,0\n1,2\n", "line 2"),
        ("s.csv", "1,0,3\n", "line 1"),
        ("s.csv", "-1,0\n", "line 1"),
        ("s.csv", "1,quarantined\n", "line 1"),
        ("s.csv", "99999999999,1\n", "line 1"),
        ("s.csv", "\u00b2,1\n", "line 1"),
        ("s.csv", "1,\u00b2\n", "line 1"),
        ("s.json", '{"1": 0, "x": 1}', "'x'"),
        ("s.json", '{"1": 4}', "'1'"),
        ("s.json", '{"1": true}', "'1'"),
        ("s.json", "[0, 1, 9]", "entry 2"),
        ("s.json", '"normal"', "expected"),
        ("s.json", "{not json", "not JSON"),
        ("s.json", '{"1": 0, "1": 2}', "not JSON"),
    ],
)
def test_bad_status_rows_are_named_in_one_line(keyfiles, capsys, tmp_path, name, text, where):
    source = _write_statuses(tmp_path, name, text)
    out_path = tmp_path / "list.jwt"
    code, out, err = run(
        capsys, "status-list", "--key", keyfiles[0], "--uri", URI, "--in", source, "--out", out_path
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and where in err, err
    assert not out_path.exists()


def test_missing_and_broken_key_files_are_one_line_errors(tmp_path, capsys):
    broken = tmp_path / "broken.jwks"
    broken.write_text("{")
    public_only = tmp_path / "public.jwks"
    public_only.write_text(
        json.dumps({"keys": [credentials.public_jwk(credentials.generate_keypair("k", "EdDSA"))]})
    )
    for path, words in [
        (tmp_path / "none.jwks", "cannot read"),
        (broken, "not JSON"),
        (public_only, "no private key"),
    ]:
        code, _, err = run(
            capsys, "issue", "--key", path, "--community", "c", "--id", "p", "--type", "visitor"
        )
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_status_list_replaces_an_old_list_and_reports_unwritable_places(keyfiles, capsys, tmp_path):
    private, public = keyfiles
    source = _write_statuses(tmp_path, "s.csv", "1,3\n")
    out_path = tmp_path / "list.jwt"
    out_path.write_text("old list\n")
    argv = ("status-list", "--key", private, "--uri", URI, "--in", source)
    assert run(capsys, *argv, "--out", out_path)[0] == 0
    keys = credentials.KeySet.load(public)
    result = credentials.verify_status_list_token(out_path.read_text().strip(), keys)
    assert result.ok and result.status_list.status(1) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    code, _, err = run(capsys, *argv, "--out", tmp_path / "no-such-dir" / "list.jwt")
    assert code == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1


def test_inspect_reads_the_token_from_stdin(keyfiles, capsys, monkeypatch):
    import io

    token = _issue(capsys, keyfiles[0], *RESIDENT)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code, out, _ = run(capsys, "inspect", "-")
    assert code == 0 and json.loads(out)["header"]["kid"] == "sg1"


# --- the compact form, the default --------------------------------------------------------

BASE45 = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def _qr_version_number(err: str) -> int:
    words = err.replace(",", " ").split()
    assert words[0] == "QR" and words[1].endswith("-M"), err
    return int(words[1][:-2])


def test_issue_prints_a_compact_pass_by_default_and_its_qr_version_on_stderr(keyfiles, capsys):
    private, public = keyfiles
    token, err = _issue_with_stderr(capsys, private, *RESIDENT)
    assert token.startswith("GK1:") and set(token[4:]) <= BASE45
    assert len(err.strip().splitlines()) == 1 and f"{len(token)} characters" in err
    result = credentials.verify_pass(token, credentials.KeySet.load(public))
    assert result.ok and result.header["typ"] == "gatepass+cwt"
    assert (
        result.claims
        == credentials.verify_pass(
            _issue(capsys, private, *RESIDENT, "--format", "jwt"), credentials.KeySet.load(public)
        ).claims
    )


def test_the_compact_pass_needs_a_smaller_qr_code_than_the_jwt(keyfiles, capsys):
    compact, compact_err = _issue_with_stderr(capsys, keyfiles[0], *RESIDENT)
    jwt, jwt_err = _issue_with_stderr(capsys, keyfiles[0], *RESIDENT, "--format", "jwt")
    assert jwt.count(".") == 2
    assert len(compact) < len(jwt)
    assert _qr_version_number(compact_err) + 3 <= _qr_version_number(jwt_err)


def test_a_compact_visitor_pass_gets_a_random_cti_read_as_hex(keyfiles, capsys):
    private, public = keyfiles
    keys = credentials.KeySet.load(public)
    first, second = (
        credentials.verify_pass(_issue(capsys, private, "--type", "visitor"), keys).claims
        for _ in range(2)
    )
    assert first["jti"] != second["jti"]
    assert len(first["jti"]) == 16 and int(first["jti"], 16) >= 0


def test_an_es256_key_issues_compact_passes_too(tmp_path, capsys):
    argv = ("keygen", "--kid", "es", "--alg", "ES256", "--out", tmp_path / "p.jwks")
    assert run(capsys, *argv, "--public-out", tmp_path / "pub.jwks")[0] == 0
    token = _issue(capsys, tmp_path / "p.jwks", *RESIDENT)
    result = credentials.verify_pass(token, credentials.KeySet.load(tmp_path / "pub.jwks"))
    assert token.startswith("GK1:") and result.ok and result.header["alg"] == "ES256"


@pytest.mark.parametrize("form", ["cwt", "jwt"])
def test_inspect_reads_both_forms(keyfiles, capsys, form):
    private, public = keyfiles
    token = _issue(capsys, private, *RESIDENT, "--format", form)
    code, out, _ = run(capsys, "inspect", token)
    report = json.loads(out)
    assert code == 0 and report["form"] == form and report["verified"] is False
    assert report["claims"]["status"] == {"status_list": {"idx": 12345, "uri": URI}}
    assert report["times_utc"]["iat"] == "2026-01-01T00:00:00Z"
    code, out, _ = run(capsys, "inspect", token, "--keys", public)
    assert code == 0 and json.loads(out)["verified"] is True


def test_inspect_with_keys_flags_a_forged_compact_pass(keyfiles, capsys):
    private, public = keyfiles
    impostor = credentials.generate_keypair("sg1", "EdDSA")  # the trusted kid, another key
    claims = credentials.verify_pass(
        _issue(capsys, private, *RESIDENT), credentials.KeySet.load(public)
    ).claims
    forged = credentials.sign_cwt_pass(claims, impostor)
    code, out, _ = run(capsys, "inspect", forged, "--keys", public)
    report = json.loads(out)
    assert code == 1 and report["verified"] is False and "bad_signature" in report["note"]


def test_inspect_reads_a_compact_pass_pasted_with_a_line_end(keyfiles, capsys, monkeypatch):
    import io

    token = _issue(capsys, keyfiles[0], *RESIDENT)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\r\n"))
    code, out, _ = run(capsys, "inspect", "-", "--keys", keyfiles[1])
    assert code == 0 and json.loads(out)["verified"] is True


@pytest.mark.parametrize("code", ["GK1:", "GK1:GGW", "GK1:6bfoxn"])
def test_inspect_refuses_text_that_is_no_compact_pass_in_one_line(keyfiles, capsys, code):
    status, out, err = run(capsys, "inspect", code)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unrecognized_code" in err


@given(data=st.binary(max_size=800))
def test_base45_text_never_ends_in_whitespace_so_stripping_a_pasted_pass_is_safe(data):
    assert not base45.b45encode(data).decode().endswith(" ")
