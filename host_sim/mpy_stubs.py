"""Gathers the installed MicroPython stubs into one folder that mypy can use as its typeshed.

The stub packages install next to real CPython modules in site-packages; pointing mypy at
site-packages would type-check the core against CPython. This folder holds only the stubs.
Usage: python host_sim/mpy_stubs.py OUT_DIR
"""

import shutil
import sys
import sysconfig
from pathlib import Path


def main(out: str) -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    target = Path(out)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if not (site / "stdlib" / "VERSIONS").exists():
        print("mpy_stubs: micropython-stdlib-stubs is not installed", file=sys.stderr)
        return 1
    for name in sorted(_stub_top_levels(site)):
        (target / name).symlink_to(site / name)
    return 0


def _stub_top_levels(site: Path) -> set[str]:
    """Top-level names installed by the micropython-* stub distributions (from their RECORDs)."""
    names: set[str] = set()
    for record in site.glob("micropython_*stubs*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            top = line.split(",", 1)[0].split("/", 1)[0]
            if top and not top.endswith(".dist-info") and (site / top).exists():
                names.add(top)
    return names


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
