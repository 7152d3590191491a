"""The pass tool's actions: keygen, issue (compact or JWT, with its QR code), status-list,
inspect."""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from firmware import credentials
from firmware.cli.errors import UsageError
from firmware.cli.pass_files import (
    _jwks_bytes,
    _read_text,
    _write_file,
    load_signing_key,
    parse_duration,
)
from firmware.commands.auth import COMMAND_TYP
from firmware.core import b64, status_list
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
