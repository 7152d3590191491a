"""`gatekiosk pass`: keys, passes and status lists for the community side (and for tests).

    gatekiosk pass keygen --kid K [--alg EdDSA|ES256] --out private.jwks [--public-out public.jwks]
    gatekiosk pass issue --key private.jwks --community C --id PASSID --type resident ...
        [--format cwt|jwt]
    gatekiosk pass status-list --key private.jwks --uri URI --in statuses.csv --out list.jwt
    gatekiosk pass inspect TOKEN [--keys public.jwks]

Passes are kept short on purpose: a QR code's density decides how far from the camera it can be
read. By default a pass is the compact form (DESIGN 2.1b: `GK1:` + base45 of a COSE_Sign1 with
CWT claims), which QR codes carry in their dense alphanumeric mode; `--format jwt` issues the
JWT (header {alg, kid, typ}, only the claims a pass needs, JSON without whitespace). Either way
the QR version is reported on stderr, so stdout is the token alone. Bad input is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware import credentials
from firmware.cli.errors import UsageError
from firmware.commands.auth import COMMAND_TYP
from firmware.core import b64, status_list
from firmware.core.claims import PASS_TYPES
from firmware.credentials import status_lists
from firmware.credentials.status_lists import MAX_STATUS_INDEX
from firmware.topics import ID_PATTERN

# Every pass carries its kid: keep it short.
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
# Opaque pass id: printable ASCII without spaces, never a name (DESIGN 2.1).
PASS_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
MAX_UNIT_CHARS = 64
MAX_JTI_CHARS = 64
MAX_URI_CHARS = 256
STATUS_REQUIRED = ("resident", "staff")
DEFAULT_VALIDITY = {"resident": "365d", "staff": "30d", "visitor": "24h"}
DEFAULT_STATUS_LIST_VALIDITY = "24h"
# Random bytes in a default visitor jti: 64 bits, 11 characters.
VISITOR_JTI_BYTES = 8
QR_ERROR_CORRECTION = "m"
QR_BORDER_MODULES = 4
QR_DEFAULT_SCALE = 8
PASS_FORMATS = ("cwt", "jwt")
_UNITS_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


# ---------------------------------------------------------------------------------------------
# Argument parsing


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the keygen, issue, status-list and inspect actions."""
    actions = parser.add_subparsers(dest="pass_action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    keygen = actions.add_parser("keygen", help="make a signing key (JWKS with private parts)")
    keygen.add_argument("--kid", required=True, help="key id; every pass carries it, keep it short")
    keygen.add_argument("--alg", choices=credentials.ALGORITHMS, default=credentials.EDDSA)
    keygen.add_argument("--out", required=True, type=Path, help="private JWKS (mode 0600)")
    keygen.add_argument("--public-out", type=Path, help="public JWKS for the gates")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(_action=_keygen)

    issue = actions.add_parser("issue", help="sign a pass and print its code")
    issue.add_argument("--key", required=True, type=Path, help="private JWKS")
    issue.add_argument("--kid", help="which key of the JWKS (needed when it holds several)")
    issue.add_argument("--community", required=True, help="issuing community id (iss)")
    issue.add_argument("--id", required=True, dest="pass_id", help="opaque pass id (sub)")
    issue.add_argument("--type", required=True, choices=PASS_TYPES, dest="pass_type")
    issue.add_argument("--status-idx", type=_non_negative_int, help="index in the status list")
    issue.add_argument("--status-uri", help="the status list's uri (its sub)")
    issue.add_argument("--unit", help="building-unit-room, e.g. 3-2-501")
    issue.add_argument("--gates", help="comma-separated gate ids the pass is restricted to")
    issue.add_argument(
        "--jti",
        help="unique id; a visitor pass with one is single-use per gate (in a compact pass its "
        "bytes become the cti, which gates read as lowercase hex)",
    )
    issue.add_argument(
        "--reusable",
        action="store_true",
        help="visitor pass without a jti (by default visitors get a random single-use jti)",
    )
    issue.add_argument("--valid-from", type=_non_negative_int, help="nbf, epoch seconds")
    issue.add_argument(
        "--valid-for",
        help="lifetime: 3600, 45m, 12h, 30d (default by type: resident 365d, "
        "staff 30d, visitor 24h)",
    )
    issue.add_argument("--now", type=_non_negative_int, help="issue time (iat), epoch seconds")
    issue.add_argument(
        "--format",
        choices=PASS_FORMATS,
        default="cwt",
        dest="pass_format",
        help="cwt: compact GK1: pass (default, smaller QR); jwt: the JWT form",
    )
    issue.add_argument("--qr", type=Path, help="also write the QR code to this PNG file")
    issue.add_argument(
        "--qr-scale", type=_positive_int, default=QR_DEFAULT_SCALE, help="pixels per QR module"
    )
    issue.set_defaults(_action=_issue)

    build = actions.add_parser("status-list", help="build a signed Token Status List JWT")
    build.add_argument("--key", required=True, type=Path, help="private JWKS")
    build.add_argument("--kid", help="which key of the JWKS (needed when it holds several)")
    build.add_argument("--uri", required=True, help="the list's uri, as in the passes (sub)")
    build.add_argument(
        "--in",
        required=True,
        type=Path,
        dest="source",
        help="statuses: CSV lines 'index,status' or JSON {\"12\": 2} / [0, 2, ...]",
    )
    build.add_argument("--ttl", type=_positive_int, help="seconds a gate may cache the list")
    build.add_argument(
        "--valid-for", default=DEFAULT_STATUS_LIST_VALIDITY, help="lifetime until exp (default 24h)"
    )
    build.add_argument(
        "--size",
        type=_non_negative_int,
        default=0,
        help="pad the list to at least this many entries (hides how many passes exist)",
    )
    build.add_argument("--now", type=_non_negative_int, help="issue time (iat), epoch seconds")
    build.add_argument("--out", required=True, type=Path, help="where to write the JWT")
    build.set_defaults(_action=_status_list)

    inspect = actions.add_parser(
        "inspect", help="print a token's header and claims (UNVERIFIED unless --keys)"
    )
    inspect.add_argument("token", help="the token text, or - to read it from stdin")
    inspect.add_argument("--keys", type=Path, help="public JWKS: also verify the signature")
    inspect.set_defaults(_action=_inspect)


def main(args: argparse.Namespace) -> int:
    """Run the chosen action; usage problems are one line on stderr and exit status 2."""
    action: Callable[[argparse.Namespace], int] = args._action
    try:
        return action(args)
    except (UsageError, credentials.KeySetError, status_lists.StatusInputError) as exc:
        sys.stderr.write(f"gatekiosk pass {args.pass_action}: error: {exc}\n")
        return 2


def _non_negative_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return int(text)


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_duration(text: str) -> int:
    """Seconds in "3600", "3600s", "45m", "12h" or "30d"; raises UsageError."""
    match = re.fullmatch(r"([0-9]{1,9})([smhd]?)", text.strip())
    if match is None:
        raise UsageError(f"duration {text!r} is not like 3600, 45m, 12h or 30d")
    if int(match.group(1)) == 0:
        raise UsageError(f"duration {text!r} must be longer than 0")
    return int(match.group(1)) * _UNITS_S[match.group(2)]


# ---------------------------------------------------------------------------------------------
# Files


def _write_file(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    """Write `data` with `mode`; without `overwrite` an existing file is refused, never replaced.

    With `overwrite` the file is replaced atomically, so a reader never sees half a key or list.
    Either way a failed write leaves no partial file behind.
    """
    written = path.with_name(f".{path.name}.{os.getpid()}.tmp") if overwrite else path
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(written, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists (use --force to replace it)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask cannot loosen it, but an old file's mode could
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(written, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(written)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text") from None


def load_signing_key(path: Path, kid: str | None) -> dict[str, Any]:
    """The private JWK to sign with: the one named `kid`, or the only private key in `path`."""
    try:
        jwks = credentials.strict_json_loads(_read_text(path, "key file"))
    except ValueError:
        raise UsageError(f"key file {path} is not JSON") from None
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"key file {path} is not a JWKS (no 'keys' list)")
    private = [k for k in entries if isinstance(k, dict) and "d" in k]
    if kid is not None:
        private = [k for k in private if k.get("kid") == kid]
        if not private:
            raise UsageError(f"key file {path} has no private key with kid {kid!r}")
    if not private:
        raise UsageError(f"key file {path} holds no private key")
    if len(private) > 1:
        raise UsageError(f"key file {path} holds several private keys; choose one with --kid")
    return private[0]


def _jwks_bytes(keys: list[dict[str, Any]]) -> bytes:
    return (json.dumps({"keys": keys}, indent=2) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# keygen


def _keygen(args: argparse.Namespace) -> int:
    if not KID_PATTERN.fullmatch(args.kid):
        raise UsageError(f"kid {args.kid!r} must be 1-32 characters of A-Z a-z 0-9 . _ -")
    outputs = [args.out] + ([args.public_out] if args.public_out else [])
    if args.public_out and args.public_out.resolve() == args.out.resolve():
        raise UsageError("--out and --public-out must be different files")
    if not args.force:
        # Check both before writing either, so a refusal leaves nothing half done.
        for path in outputs:
            if path.exists():
                raise UsageError(f"{path} exists (use --force to replace it)")
    private = credentials.generate_keypair(args.kid, args.alg)
    _write_file(args.out, _jwks_bytes([private]), 0o600, args.force)
    if args.public_out:
        _write_file(
            args.public_out, _jwks_bytes([credentials.public_jwk(private)]), 0o644, args.force
        )
    print(
        f"{args.alg} key {args.kid!r} written to {args.out}"
        + (f", public part to {args.public_out}" if args.public_out else "")
    )
    return 0


# ---------------------------------------------------------------------------------------------
# issue


def _check_id(value: str, what: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise UsageError(f"{what} {value!r} must be 1-64 characters of a-z 0-9 -")
    return value


def build_pass_claims(args: argparse.Namespace, now: int) -> dict[str, Any]:
    """The claims of the pass `args` describe, in a compact order; raises UsageError.

    Named as in the JWT for both forms. For a compact pass `jti` is the hex of the cti bytes:
    the bytes of `--jti`, or 8 random bytes for a visitor.
    """
    compact = getattr(args, "pass_format", "jwt") == "cwt"
    _check_id(args.community, "community")
    if not PASS_ID_PATTERN.fullmatch(args.pass_id):
        raise UsageError("pass id must be 1-64 printable ASCII characters without spaces")
    has_idx, has_uri = args.status_idx is not None, args.status_uri is not None
    if has_idx != has_uri:
        raise UsageError("--status-idx and --status-uri go together")
    if not has_idx and args.pass_type in STATUS_REQUIRED:
        raise UsageError(f"a {args.pass_type} pass needs --status-idx and --status-uri")
    if has_uri:
        _check_uri(args.status_uri)
    if args.status_idx is not None and args.status_idx > MAX_STATUS_INDEX:
        raise UsageError(f"--status-idx is larger than a status list holds ({MAX_STATUS_INDEX})")

    lifetime = parse_duration(args.valid_for or DEFAULT_VALIDITY[args.pass_type])
    starts = now if args.valid_from is None else args.valid_from
    claims: dict[str, Any] = {
        "iss": args.community,
        "sub": args.pass_id,
        "pt": args.pass_type,
        "iat": now,
    }
    if args.valid_from is not None and args.valid_from != now:
        claims["nbf"] = args.valid_from
    claims["exp"] = starts + lifetime
    if has_idx:
        claims["status"] = {"status_list": {"idx": args.status_idx, "uri": args.status_uri}}
    if args.unit is not None:
        if not 0 < len(args.unit) <= MAX_UNIT_CHARS or not args.unit.isprintable():
            raise UsageError(f"unit must be 1-{MAX_UNIT_CHARS} printable characters")
        claims["unit"] = args.unit
    if args.gates is not None:
        gates = [gate.strip() for gate in args.gates.split(",")]
        for gate in gates:
            _check_id(gate, "gate")
        if len(set(gates)) != len(gates):
            raise UsageError("--gates lists a gate twice")
        claims["gates"] = gates
    jti = args.jti
    if jti is not None and args.reusable:
        raise UsageError("--jti and --reusable contradict each other")
    random_jti = jti is None and args.pass_type == "visitor" and not args.reusable
    if random_jti:
        raw = secrets.token_bytes(VISITOR_JTI_BYTES)
        claims["jti"] = raw.hex() if compact else b64.encode(raw)
    elif jti is not None:
        if not PASS_ID_PATTERN.fullmatch(jti):
            raise UsageError(f"jti must be 1-{MAX_JTI_CHARS} printable ASCII characters")
        claims["jti"] = jti.encode("ascii").hex() if compact else jti
    return claims


def _check_uri(uri: str) -> None:
    if (
        not 0 < len(uri) <= MAX_URI_CHARS
        or not uri.isascii()
        or not uri.isprintable()
        or " " in uri
        or not uri.startswith(("https://", "http://"))
    ):
        raise UsageError(f"uri must be an http(s) URI of at most {MAX_URI_CHARS} characters")


def _now(args: argparse.Namespace) -> int:
    return int(time.time()) if args.now is None else int(args.now)


def _qr_code(token: str) -> Any:
    import segno  # only the community side renders QR codes

    # boost_error=False keeps level M exactly: the contract of what a gate must read. segno
    # picks the alphanumeric mode by itself for a compact pass.
    return segno.make(token, error=QR_ERROR_CORRECTION, boost_error=False, micro=False)


def qr_version(token: str) -> str:
    """The QR version and error level the pass's code needs, e.g. "11-M"."""
    return str(_qr_code(token).designator)


def write_qr(token: str, path: Path, scale: int = QR_DEFAULT_SCALE) -> str:
    """Write the QR code of `token` as PNG (error correction M, 4-module border); its version."""
    qr = _qr_code(token)
    try:
        qr.save(str(path), kind="png", scale=scale, border=QR_BORDER_MODULES)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    return str(qr.designator)


def _issue(args: argparse.Namespace) -> int:
    now = _now(args)
    claims = build_pass_claims(args, now)
    key = load_signing_key(args.key, args.kid)
    if args.pass_format == "cwt":
        token = credentials.sign_cwt_pass(claims, key)
    else:
        token = credentials.sign_token(claims, key, credentials.PASS_TYP)
    if len(token) > credentials.MAX_CODE_CHARS:
        raise UsageError(
            f"the pass would be {len(token)} characters; gates refuse more than "
            f"{credentials.MAX_CODE_CHARS} (fewer gates, shorter ids)"
        )
    if args.qr is not None:
        version = write_qr(token, args.qr, args.qr_scale)
        sys.stderr.write(f"QR {version}, {len(token)} characters, written to {args.qr}\n")
    else:
        sys.stderr.write(f"QR {qr_version(token)}, {len(token)} characters\n")
    print(token)
    return 0


# ---------------------------------------------------------------------------------------------
# status-list


def read_statuses(path: Path) -> dict[int, int]:
    """Statuses from a .json file, or from CSV lines otherwise; raises UsageError."""
    text = _read_text(path, "statuses file")
    if path.suffix.lower() == ".json":
        return status_lists.parse_statuses_json(text, path.name)
    return status_lists.parse_statuses_csv(text, path.name)


def _status_list(args: argparse.Namespace) -> int:
    _check_uri(args.uri)
    lifetime = parse_duration(args.valid_for)
    statuses = read_statuses(args.source)
    claims = status_lists.build_status_list_claims(
        statuses, args.uri, _now(args), lifetime, args.ttl, args.size
    )
    key = load_signing_key(args.key, args.kid)
    token = credentials.sign_token(claims, key, credentials.STATUS_LIST_TYP)
    if len(token) > credentials.MAX_STATUS_LIST_TOKEN_CHARS:
        raise UsageError(
            f"the list would be {len(token)} characters; gates refuse more than "
            f"{credentials.MAX_STATUS_LIST_TOKEN_CHARS}"
        )
    _write_file(args.out, (token + "\n").encode("ascii"), 0o644, overwrite=True)
    flagged = sum(1 for value in statuses.values() if value != status_list.NORMAL)
    print(
        f"status list {args.uri}: {len(statuses)} entries listed, {flagged} not normal, "
        f"{len(token)} characters, written to {args.out}"
    )
    return 0


# ---------------------------------------------------------------------------------------------
# inspect


def _utc(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 253402300800:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
    return None


def _inspect(args: argparse.Namespace) -> int:
    token = sys.stdin.read() if args.token == "-" else args.token
    # Safe for a compact pass too: base45 has a space, but never as its last character.
    token = token.strip()
    try:
        header, claims = credentials.decode_unverified(token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report: dict[str, Any] = {
        "form": "cwt" if token.startswith(credentials.PREFIX) else "jwt",
        "verified": False,
        "note": "UNVERIFIED: the signature was not checked",
        "header": header,
        "claims": claims,
    }
    times = {name: _utc(claims.get(name)) for name in ("iat", "nbf", "exp")}
    report["times_utc"] = {name: text for name, text in times.items() if text}
    status = 0
    if args.keys is not None:
        keys = credentials.KeySet.load(args.keys)
        typ = header.get("typ")
        if typ in (credentials.PASS_TYP, credentials.CWT_PASS_TYP):
            reason = credentials.verify_pass(token, keys).reason
        elif typ == credentials.STATUS_LIST_TYP:
            reason = credentials.verify_status_list_token(token, keys).reason
        elif typ == COMMAND_TYP:
            limit = credentials.MAX_STATUS_LIST_TOKEN_CHARS
            reason = credentials.verify_jws(token, keys, typ=typ, max_chars=limit).reason
        else:
            reason = f"unknown typ {typ!r}"
        report["verified"] = reason is None
        report["note"] = (
            "signature verified with " + str(args.keys)
            if reason is None
            else "NOT VERIFIED: " + reason
        )
        status = 0 if reason is None else 1
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return status
