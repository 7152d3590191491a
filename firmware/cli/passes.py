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
import sys
from collections.abc import Callable
from pathlib import Path

from firmware import credentials
from firmware.cli.errors import UsageError
from firmware.cli.pass_actions import (
    DEFAULT_STATUS_LIST_VALIDITY,
    PASS_FORMATS,
    QR_DEFAULT_SCALE,
    _inspect,
    _issue,
    _keygen,
    _status_list,
)
from firmware.core.claims import PASS_TYPES
from firmware.credentials import status_lists

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



