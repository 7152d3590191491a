"""Runs every benchmark module (bench/bench_*.py), prints a summary, writes bench/report.json,
the same readable summary to bench/summary.txt, and bench/REPORT.md (headline figures first).

Each module has `run() -> dict`: it measures, prints its own readable lines, and returns the
figures to store under its name in the report.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path
from typing import TextIO

from bench import report_md

HERE = Path(__file__).resolve().parent


class _Tee:
    """Writes to the terminal and keeps a copy for bench/summary.txt."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        return _run(argv, tee)
    finally:
        sys.stdout = tee.stream


def _run(argv: list[str] | None, tee: _Tee) -> int:
    only = set(argv if argv is not None else sys.argv[1:])
    report: dict = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "sections": {},
    }
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    for name in names:
        section = name.removeprefix("bench_")
        if only and section not in only:
            continue
        print(f"== {section}")
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        report["sections"][section] = module.run()
        print(f"   ({time.perf_counter() - started:.1f} s)")
    out = HERE / "report.json"
    if only and out.exists():
        previous = json.loads(out.read_text())
        previous["sections"].update(report["sections"])
        previous["generated_at"], previous["machine"] = report["generated_at"], report["machine"]
        report = previous
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    report_md.write(report, HERE / "REPORT.md")
    if not only:
        header = f"gatekiosk benchmarks, {report['generated_at']}, {platform.platform()}\n"
        (HERE / "summary.txt").write_text(header + "".join(tee.lines))
    written = "bench/REPORT.md" + ("" if only else " and bench/summary.txt")
    print(f"wrote {out.relative_to(HERE.parent)}, {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
