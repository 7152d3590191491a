"""The fleet's accounts: what the gates committed against what the server stored.

For every gate stream the worker's final snapshot says how many records were committed (seq 1
to `last_seq`); the consumers' SQLite files say which seqs arrived, how many copies, and whether
a copy ever carried another event_id (a conflict: a duplicate must be a repeat of the same
event). A gap is a committed seq the server does not hold.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def server_records(stores: Iterable[Path]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (device, stream): held seqs, highest seq, extra copies, conflicts — over every store
    together (with shared subscriptions a resent record may land on another consumer: it is
    held once, and its second copy is a duplicate there too)."""
    seen: dict[tuple[str, str, int], tuple[str, int, int]] = {}  # -> event_id, copies, conflicts
    for path in stores:
        if not path.exists():
            continue
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(
                "SELECT device_id, stream, seq, event_id, copies, conflicts FROM records"
            ).fetchall()
        finally:
            conn.close()
        for device, stream, seq, event_id, copies, conflicts in rows:
            key = (device, stream, seq)
            if key in seen:
                first, had, clashes = seen[key]
                seen[key] = (first, had + copies, clashes + conflicts + (event_id != first))
            else:
                seen[key] = (event_id, copies, conflicts)
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for (device, stream, seq), (_event_id, copies, conflicts) in seen.items():
        entry = totals.setdefault((device, stream), Counter())
        entry["held"] += 1
        entry["max_seq"] = max(entry["max_seq"], seq)
        entry["duplicates"] += copies - 1
        entry["conflicts"] += conflicts
    return totals


def reconcile(gates: list[dict[str, Any]], stores: Iterable[Path]) -> dict[str, Any]:
    """Sent, stored, duplicates, conflicts and gaps over the whole fleet."""
    held = server_records(stores)
    sent = stored = duplicates = conflicts = gaps = 0
    gap_gates: list[str] = []
    for gate in gates:
        key = (gate["device_id"], gate["stream"])
        sent += gate["last_seq"]
        entry = held.get(key, {})
        have = int(entry.get("held", 0))
        stored += have
        duplicates += int(entry.get("duplicates", 0))
        conflicts += int(entry.get("conflicts", 0))
        missing = gate["last_seq"] - min(have, gate["last_seq"])
        if missing:
            gaps += missing
            gap_gates.append(gate["device_id"])
    return {"events_sent": sent, "stored": stored, "duplicates": duplicates,
            "conflicts": conflicts, "gaps": gaps, "gates_with_gaps": gap_gates[:10]}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(fraction * len(ordered)) - 1, 0))]


def connect_rates(times: list[float], since: float, bin_s: float = 0.1) -> dict[str, Any]:
    """How connections after `since` were spread: rate per bin from the first to the last.

    `p99_per_s` and `peak_per_s` are connections per second measured over `bin_s` bins; a
    lock-step return shows as a high peak in one bin, a jittered one as a flat spread.
    """
    after = sorted(t for t in times if t >= since)
    if not after:
        return {"connects": 0, "spread_s": 0.0, "p50_per_s": 0.0, "p99_per_s": 0.0,
                "peak_per_s": 0.0, "timeline": []}
    first = after[0]
    bins = Counter(int((t - first) / bin_s) for t in after)
    series = [bins.get(i, 0) / bin_s for i in range(max(bins) + 1)]
    per_second = Counter(int(t - since) for t in after)
    return {
        "connects": len(after),
        "first_after_s": round(first - since, 2),
        "spread_s": round(after[-1] - first, 2),
        "p50_per_s": percentile(series, 0.5),
        "p99_per_s": percentile(series, 0.99),
        "peak_per_s": max(series),
        "timeline": [per_second.get(i, 0) for i in range(max(per_second) + 1)],
    }
