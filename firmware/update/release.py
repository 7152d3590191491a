"""`python -m firmware.update.release`: sign a directory of wheels into a release bundle.

Used by `make release`: the project's wheel (which gives the version) and its dependencies'
wheels are put in one directory, then signed here with the community's admin key (a private
JWKS, as `gatekiosk pass keygen` writes) into `gatekiosk-<version>.tar`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from firmware import credentials
from firmware.update.bundle import write_bundle
from firmware.update.layout import UpdateError


def project_version(wheels: list[Path]) -> str:
    """The version in the project's own wheel name (gatekiosk-<version>-...whl)."""
    ours = [w for w in wheels if w.name.startswith("gatekiosk-")]
    if len(ours) != 1:
        raise UpdateError(f"expected one gatekiosk wheel, found {len(ours)}")
    return ours[0].name.split("-")[1]


def signing_key(path: Path) -> dict[str, object]:
    """The one private key in a JWKS file (or a bare JWK)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UpdateError(f"{path}: unreadable key ({exc})") from None
    keys = data.get("keys", [data]) if isinstance(data, dict) else []
    private = [k for k in keys if isinstance(k, dict) and "d" in k]
    if len(private) != 1:
        raise UpdateError(f"{path}: needs exactly one private key, has {len(private)}")
    return private[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release", description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, type=Path, help="admin private JWKS")
    parser.add_argument("--wheels", required=True, type=Path, help="directory of wheels")
    parser.add_argument("--out", type=Path, help="bundle file (default dist/gatekiosk-V.tar)")
    args = parser.parse_args(argv)
    try:
        wheels = sorted(args.wheels.glob("*.whl"))
        version = project_version(wheels)
        out = args.out or Path("dist") / f"gatekiosk-{version}.tar"
        manifest = write_bundle(out, version, wheels, signing_key(args.key), None)
    except (UpdateError, credentials.KeySetError, ValueError) as exc:
        sys.stderr.write(f"release: {exc}\n")
        return 1
    print(f"{out}: gatekiosk {version}, {len(manifest.files)} wheels, signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
