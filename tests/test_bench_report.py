"""bench/REPORT.md says what was measured, on what machine, and says so when it was not."""

from __future__ import annotations

from bench import report_md


def test_the_report_leads_with_headlines_and_names_what_was_not_measured():
    report = {
        "generated_at": "2026-12-03T12:00:00Z",
        "machine": {"platform": "Linux-test", "cpus": 2, "python": "3.11.7"},
        "sections": {
            "decide": {"decide_per_s": 149637, "verify_and_decide_per_s": 5776},
            "sim": {"frame_to_relay_ms": {"p50": 4.14, "p99": 8.5}},
        },
        "soak": {"gate_kills": {"kills": 1000, "broker_restarts": 100}},
    }
    text = report_md.render(report)
    assert text.startswith("# gatekiosk benchmark report")
    assert "Linux-test, 2 CPUs, Python 3.11.7" in text
    assert "| decisions per second (decide alone) | 149637 /s |" in text
    assert "| QR frame entering the camera -> relay high, p99 | 8.5 ms |" in text
    assert "| soak: gate SIGKILLs (last long run) | 1000 |" in text
    assert "| gatekiosk run: spawn -> READY=1 (median) | not measured |" in text
    headline_end = text.index("## decide")
    assert text.index("| `frame_to_relay_ms.p50` | 4.14 |") > headline_end
