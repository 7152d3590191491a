"""Signed exports of a gate's own records, for a technician's USB stick.

An export is an uncompressed tar of two files:

    records.jsonl   one line per record, {"type": "event"|"alarm", "payload": {...}}, in seq
                    order, each payload exactly as the gate publishes it
    manifest.jwt    a compact JWS (typ `gatekiosk-export+jwt`, EdDSA) by the *device key* over
                    {device_id, stream, seqs: [first, last], count, sha256 of records.jsonl,
                     created}

The device key is the gate's own Ed25519 key, made on first use in its data directory
(`device-key.jwks`, mode 0600). It signs nothing but these exports: passes, status lists and
commands are only ever verified by a gate. The community server verifies an export against the
device's public key it registered (`gatekiosk events --device-key` prints it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware import credentials

DEVICE_KEY_FILE = "device-key.jwks"
EXPORT_TYP = "gatekiosk-export+jwt"
RECORDS = "records.jsonl"
MANIFEST = "manifest.jwt"
MAX_MANIFEST_CHARS = 8192


class ExportError(Exception):
    """An export that cannot be written or trusted; one line."""


def device_key(data_dir: Path, device_id: str) -> dict[str, str]:
    """The gate's export-signing key: read it, or make it (0600) the first time."""
    path = data_dir / DEVICE_KEY_FILE
    if path.exists():
        try:
            keys = json.loads(path.read_text(encoding="utf-8"))["keys"]
            return dict(keys[0])
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ExportError(f"{path}: unreadable device key ({exc})") from None
    key = credentials.generate_keypair(device_id, "EdDSA")
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"keys": [key]}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


def public_jwks(key: dict[str, str]) -> dict[str, Any]:
    return {"keys": [credentials.public_jwk(key)]}


@dataclass(frozen=True)
class Export:
    device_id: str
    stream: str
    records: list[dict[str, Any]]  # {"type", "payload"}
    first_seq: int
    last_seq: int


def write_export(
    directory: Path, records: Iterable[tuple[str, dict[str, Any]]], key: dict[str, str],
    device_id: str, stream: str, now: float,
) -> Path:
    """Write `records` ((type, payload), seq order) signed with `key`; returns the file."""
    lines = [json.dumps({"type": t, "payload": p}, separators=(",", ":"), sort_keys=True)
             for t, p in records]
    seqs = [json.loads(line)["payload"]["seq"] for line in lines]
    body = ("\n".join(lines) + ("\n" if lines else "")).encode()
    claims = {
        "device_id": device_id,
        "stream": stream,
        "seqs": [min(seqs), max(seqs)] if seqs else [],
        "count": len(lines),
        "sha256": hashlib.sha256(body).hexdigest(),
        "created": int(now),
    }
    token = credentials.sign_token(claims, key, EXPORT_TYP)
    directory.mkdir(parents=True, exist_ok=True)
    span = f"{min(seqs)}-{max(seqs)}" if seqs else "empty"
    out = directory / f"gatekiosk-{device_id}-{stream[:8]}-{span}-{int(now)}.tar"
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w") as tar:
        for name, data in ((MANIFEST, token.encode()), (RECORDS, body)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(now)
            tar.addfile(info, io.BytesIO(data))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())  # a USB stick pulled out right after must still hold it
    os.replace(tmp, out)
    return out


def read_export(path: Path, device_keys: credentials.KeySet) -> Export:
    """Verify an export's signature and hash against the device's public key; then parse it."""
    try:
        with tarfile.open(path, "r:") as tar:
            files = {}
            for info in tar.getmembers():
                if info.isfile() and info.name in (MANIFEST, RECORDS):
                    handle = tar.extractfile(info)
                    assert handle is not None
                    files[info.name] = handle.read()
    except (OSError, tarfile.TarError) as exc:
        raise ExportError(f"{path}: not an export ({exc})") from None
    if MANIFEST not in files or RECORDS not in files:
        raise ExportError(f"{path.name}: unsigned or incomplete export")
    result = credentials.verify_jws(files[MANIFEST].decode("ascii", "replace").strip(),
                                    device_keys, typ=EXPORT_TYP, max_chars=MAX_MANIFEST_CHARS)
    if not result.ok or result.claims is None:
        raise ExportError(f"{path.name}: signature refused ({result.reason})")
    claims = result.claims
    body = files[RECORDS]
    if hashlib.sha256(body).hexdigest() != claims.get("sha256"):
        raise ExportError(f"{path.name}: records do not match the signed manifest")
    try:
        records = [json.loads(line) for line in body.decode("utf-8").splitlines() if line]
    except ValueError as exc:
        raise ExportError(f"{path.name}: records unreadable ({exc})") from None
    if len(records) != claims.get("count"):
        raise ExportError(f"{path.name}: record count does not match the manifest")
    seqs = claims.get("seqs") or [0, 0]
    return Export(str(claims.get("device_id")), str(claims.get("stream")), records,
                  int(seqs[0]), int(seqs[1]))
