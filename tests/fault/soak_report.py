"""Figures of the fault and soak runs: printed, and merged into bench/report.json under `soak`
when GATEKIOSK_SOAK_REPORT names the file (`make soak` does)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def profile_int(name: str, short: int) -> int:
    """An env-var knob of the long profile, `short` by default (`make test`)."""
    return int(os.environ.get(name, str(short)))


def record(section: str, figures: dict[str, Any]) -> None:
    """Print `figures` and, in a soak run, keep them in the report under soak.<section>."""
    sys.stderr.write(f"soak {section}: {json.dumps(figures, sort_keys=True)}\n")
    target = os.environ.get("GATEKIOSK_SOAK_REPORT")
    if not target:
        return
    path = Path(target)
    report = json.loads(path.read_text()) if path.exists() else {}
    report.setdefault("soak", {})[section] = figures
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
