"""bench/REPORT.md: the headline figures of bench/report.json, then every figure by section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (what, section, path into it, unit); a figure the report lacks is shown as "not measured".
HEADLINES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("QR read rate, pipeline, JWT pass, 1280x960", "decode",
     ("rows", "zxing/jwt@1280x960", "read_rate"), ""),
    ("QR read rate, pipeline, compact pass, 1280x960", "decode",
     ("rows", "zxing/gk1@1280x960", "read_rate"), ""),
    ("QR decode time per frame, pipeline, JWT, 1280x960 (mean)", "decode",
     ("rows", "zxing/jwt@1280x960", "ms_mean"), "ms"),
    ("QR read rate, pyzbar, JWT pass, 1280x960", "decode",
     ("rows", "pyzbar/jwt@1280x960", "read_rate"), ""),
    ("phone entering the view -> code read, JWT, p50", "reading",
     ("time_to_read/jwt", "p50_s"), "s"),
    ("phone entering the view -> code read, JWT, p99", "reading",
     ("time_to_read/jwt", "p99_s"), "s"),
    ("phone entering the view -> code read, compact, p50", "reading",
     ("time_to_read/gk1", "p50_s"), "s"),
    ("phone entering the view -> code read, compact, p99", "reading",
     ("time_to_read/gk1", "p99_s"), "s"),
    ("decisions per second (decide alone)", "decide", ("decide_per_s",), "/s"),
    ("pass verification + decision (EdDSA)", "decide", ("verify_and_decide_per_s",), "/s"),
    ("outbox commits (synchronous=FULL)", "outbox", ("commits_per_s",), "/s"),
    ("backlog drain, settled by server ack (window 10)", "outbox",
     ("drain_events_per_s_window_10",), "events/s"),
    ("decision -> settled by the server, p50", "outbox", ("settle_ms_p50",), "ms"),
    ("decision -> settled by the server, p99", "outbox", ("settle_ms_p99",), "ms"),
    ("QR frame entering the camera -> relay high, p50", "sim", ("frame_to_relay_ms", "p50"), "ms"),
    ("QR frame entering the camera -> relay high, p99", "sim", ("frame_to_relay_ms", "p99"), "ms"),
    ("person cycle (code -> relay, BAA sensor), p50", "sim", ("cycle_s_BAA", "p50"), "s"),
    ("person cycle (code -> relay, BAA sensor), p99", "sim", ("cycle_s_BAA", "p99"), "s"),
    ("person cycle (code -> relay, DCI sensor), p50", "sim", ("cycle_s_DCI", "p50"), "s"),
    ("person cycle (code -> relay, DCI sensor), p99", "sim", ("cycle_s_DCI", "p99"), "s"),
    ("simulated passes per second, 1 gate / --speed max", "sim", ("passes_per_s_1_gates",), "/s"),
    ("simulated passes per second, 4 gates / --speed max", "sim",
     ("passes_per_s_4_gates",), "/s"),
    ("gatekiosk run: spawn -> READY=1 (median)", "firmware", ("ready_s_median",), "s"),
    ("gatekiosk run: resident memory at ready", "firmware", ("rss_mb_at_ready",), "MB"),
    ("gatekiosk run: resident memory after 20 s", "firmware", ("rss_mb_after_20_s",), "MB"),
    ("screen: state change -> DOM, p99", "screen", ("state_change_to_dom", "p99_ms"), "ms"),
    ("soak: gate SIGKILLs (last long run)", "soak", ("gate_kills", "kills"), ""),
    ("soak: broker restarts (last long run)", "soak", ("gate_kills", "broker_restarts"), ""),
    ("soak: network fuzz inputs (last long run)", "soak", ("network_fuzz", "inputs"), ""),
    ("soak: RSS growth over a simulated week", "soak", ("simulated_week", "rss_growth_kb"), "kB"),
]


def _dig(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(tree, dict):
        out: list[tuple[str, Any]] = []
        for key in sorted(tree):
            out.extend(_leaves(tree[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, list):
        return [(prefix, f"{len(tree)} items")] if tree and isinstance(tree[0], dict) else [
            (prefix, ", ".join(map(str, tree)) or "none")]
    return [(prefix, tree)]


def render(report: dict[str, Any]) -> str:
    """The report as Markdown: machine, headline table, then each section's figures."""
    sections = dict(report.get("sections", {}))
    if "soak" in report:
        sections.setdefault("soak", report["soak"])
    machine = report.get("machine", {})
    lines = [
        "# gatekiosk benchmark report",
        "",
        f"Generated {report.get('generated_at', '?')} by `make bench` on "
        f"{machine.get('platform', '?')}, {machine.get('cpus', '?')} CPUs, "
        f"Python {machine.get('python', '?')}. Figures from a shared 2-core build host are for "
        "comparing changes and for orders of magnitude; a Pi 4 is several times slower per core.",
        "",
        "## Headline figures",
        "",
        "| what | figure |",
        "|---|---|",
    ]
    for what, section, path, unit in HEADLINES:
        value = _dig(sections.get(section), path)
        shown = "not measured" if value is None else f"{value} {unit}".strip()
        lines.append(f"| {what} | {shown} |")
    for name in sorted(sections):
        lines += ["", f"## {name}", "", "| figure | value |", "|---|---|"]
        lines += [f"| `{key}` | {value} |" for key, value in _leaves(sections[name])]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")
