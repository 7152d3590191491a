"""A release bundle: wheels plus a manifest the community's admin key signed.

The bundle is an uncompressed tar (wheels are already compressed) holding `manifest.jwt` and
the wheels it names, side by side with no directories. The manifest is a compact JWS
(`typ` = `gatekiosk-release+jwt`, EdDSA or ES256, through `firmware.credentials`, the same
signature layer as passes and admin commands) over

    {"version": "0.2.0", "files": {"gatekiosk-0.2.0-py3-none-any.whl": "<sha256 hex>", ...},
     "iat": 1790000000}

Nothing is trusted before the signature verified against the admin JWKS the gate already
holds; then every file's hash is checked, and a file the manifest does not name, or one it
names that is missing, refuses the whole bundle.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from firmware import credentials
from firmware.update.layout import UpdateError

MANIFEST = "manifest.jwt"
RELEASE_TYP = "gatekiosk-release+jwt"
MAX_MANIFEST_CHARS = 65536
MAX_FILE_BYTES = 200 * 1024 * 1024
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.(whl|tar\.gz)$")


@dataclass(frozen=True)
class Manifest:
    version: str
    files: dict[str, str]  # name -> sha256 hex

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_claims(version: str, files: Mapping[str, bytes], now: float) -> dict[str, Any]:
    return {
        "version": version,
        "files": {name: sha256_of(data) for name, data in sorted(files.items())},
        "iat": int(now),
    }


def write_bundle(
    out: Path, version: str, wheels: list[Path], admin_key: Mapping[str, Any], now: float | None
) -> Manifest:
    """Sign a manifest of `wheels` with `admin_key` (a private JWK) and write the bundle."""
    try:
        Version(version)
    except InvalidVersion:
        raise UpdateError(f"{version!r} is not a version") from None
    files = {w.name: w.read_bytes() for w in wheels}
    for name in files:
        if not _FILE_NAME.match(name):
            raise UpdateError(f"{name}: not a wheel or sdist file name")
    claims = manifest_claims(version, files, time.time() if now is None else now)
    token = credentials.sign_token(claims, admin_key, RELEASE_TYP)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        _add(tar, MANIFEST, token.encode())
        for name, data in sorted(files.items()):
            _add(tar, name, data)
    return Manifest(version, claims["files"])


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def read_members(path: Path) -> dict[str, bytes]:
    """The bundle's files by name; only plain files at the top level are acceptable."""
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
    try:
        with tarfile.open(path, "r:") as tar:
            members: dict[str, bytes] = {}
            for info in tar.getmembers():
                if not info.isfile() or "/" in info.name or info.name.startswith("."):
                    raise UpdateError(f"{path.name}: unexpected entry {info.name!r}")
                if info.size > MAX_FILE_BYTES:
                    raise UpdateError(f"{path.name}: {info.name} is too large")
                handle = tar.extractfile(info)
                assert handle is not None
                members[info.name] = handle.read()
            return members
    except (tarfile.TarError, OSError) as exc:
        raise UpdateError(f"{path}: not a release bundle ({exc})") from None


def verify(members: Mapping[str, bytes], admin_keys: credentials.KeySet) -> Manifest:
    """The manifest, once its signature and every file's hash are right; else UpdateError."""
    raw = members.get(MANIFEST)
    if raw is None:
        raise UpdateError(f"unsigned bundle: no {MANIFEST}")
    result = credentials.verify_jws(
        raw.decode("ascii", errors="replace").strip(),
        admin_keys,
        typ=RELEASE_TYP,
        max_chars=MAX_MANIFEST_CHARS,
    )
    if not result.ok or result.claims is None:
        raise UpdateError(f"manifest refused: {result.reason} (not signed by a trusted admin key)")
    claims = result.claims
    version, files = claims.get("version"), claims.get("files")
    if not isinstance(version, str) or not isinstance(files, dict) or not files:
        raise UpdateError("manifest refused: it needs a version and a list of files")
    try:
        Version(version)
    except InvalidVersion:
        raise UpdateError(f"manifest refused: {version!r} is not a version") from None
    for name, digest in files.items():
        if not isinstance(digest, str) or not _FILE_NAME.match(name) or "/" in name:
            raise UpdateError(f"manifest refused: bad entry {name!r}")
        data = members.get(name)
        if data is None:
            raise UpdateError(f"bundle refused: {name} is missing")
        if sha256_of(data) != digest:
            raise UpdateError(f"bundle refused: {name} does not match its sha256 in the manifest")
    extra = sorted(set(members) - set(files) - {MANIFEST})
    if extra:
        raise UpdateError(f"bundle refused: {extra[0]} is not in the manifest")
    return Manifest(version, dict(files))
