"""What the pass tool reads and writes: signing keys, JWKS files, tokens, never overwriting
without being asked."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from firmware import credentials
from firmware.cli.errors import UsageError

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


_UNITS_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

def parse_duration(text: str) -> int:
    """Seconds in "3600", "3600s", "45m", "12h" or "30d"; raises UsageError."""
    match = re.fullmatch(r"([0-9]{1,9})([smhd]?)", text.strip())
    if match is None:
        raise UsageError(f"duration {text!r} is not like 3600, 45m, 12h or 30d")
    if int(match.group(1)) == 0:
        raise UsageError(f"duration {text!r} must be longer than 0")
    return int(match.group(1)) * _UNITS_S[match.group(2)]
