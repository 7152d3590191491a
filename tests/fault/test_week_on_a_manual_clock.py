"""A simulated week of traffic on a ManualClock: residents, visitors, fevers, the exit button,
commands and status lists, through the whole gate on simulated hardware and a real outbox.
The process's resident memory, open files and threads are sampled every simulated hour and
must stay flat; the loop must be alive at the end.

Short profile (`make test`): one simulated day. `make soak`:
GATEKIOSK_SOAK_DAYS=7.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from firmware import credentials

from .soak_report import record

HOURS = round(float(os.environ.get("GATEKIOSK_SOAK_DAYS", "1")) * 24)
VISITS_PER_HOUR = 12
RSS_SLACK_KB = 24 * 1024
FD_SLACK = 4
THREAD_SLACK = 2


def resources() -> tuple[int, int, int]:
    """(resident memory in kB, open file descriptors, threads) of this process."""
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir("/proc/self/fd")), threading.active_count()


@pytest.mark.timeout(120 + 5 * HOURS)
def test_a_simulated_week_keeps_memory_files_and_threads_flat(make_rig, community, keys, clock):
    rig = make_rig()
    rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
    rig.gate.process_pending()
    started = time.monotonic()
    samples: list[tuple[int, int, int]] = []
    visits = 0
    for hour in range(HOURS):
        for i in range(VISITS_PER_HOUR):
            kind = (hour * VISITS_PER_HOUR + i) % 6
            if kind == 5:
                rig.sim_door.press_exit_button()
            else:
                pt = "visitor" if kind == 4 else "resident"
                extra = {"jti": f"v-{hour}-{i}"} if pt == "visitor" else {}
                token = community.pass_token(f"p-{hour}-{i}", pt=pt, **extra)
                rig.inbox.code(token.encode())
                rig.face_sensor(37.8 if kind == 3 else 36.6)
            rig.run_for(2.5, dt=0.25, read_camera=False)
            rig.walk_away()
            rig.run_for(1.5, dt=0.5, read_camera=False)
            # 4 simulated seconds after the code or the button (pulse_s 3 s, max_pulse_s 10 s).
            assert not rig.sim_door.relay_energised, f"relay still on at hour {hour}"
            visits += 1
            clock.advance(3600 / VISITS_PER_HOUR - 4.0)
        now = int(clock.time())
        cmd = {"iss": "sunshine-garden", "sub": "op", "aud": "north-1", "cmd": "ping",
               "jti": f"ping-{hour}", "iat": now, "exp": now + 30}
        token = credentials.sign_token(cmd, keys["admin"], "gatecmd+jwt")
        rig.inbox.mqtt_message("cmd", "ping", json.dumps({"token": token}).encode(), False)
        rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
        rig.gate.process_pending()
        # What the server would do: ack all, so settled rows get pruned.
        rig.outbox.settle_through(rig.outbox.stream, rig.outbox.last_seq())
        samples.append(resources())
    assert rig.gate.decisions >= visits * 4 // 6
    quarter = max(1, len(samples) // 4)
    early, late = samples[:quarter], samples[-quarter:]
    rss_growth = max(s[0] for s in late) - max(s[0] for s in early)
    fd_growth = max(s[1] for s in late) - max(s[1] for s in early)
    thread_growth = max(s[2] for s in late) - max(s[2] for s in early)
    assert rss_growth <= RSS_SLACK_KB, samples
    assert fd_growth <= FD_SLACK, samples
    assert thread_growth <= THREAD_SLACK, samples
    assert rig.gate.phase in ("idle", "cooldown")
    openings = sum(1 for state in rig.sim_door.relay_pin.states if state.state)
    assert openings >= visits // 2
    record("simulated_week", {
        "simulated_hours": HOURS, "visits": visits, "decisions": rig.gate.decisions,
        "relay_openings": openings,
        "rss_kb_first": samples[0][0], "rss_kb_last": samples[-1][0], "rss_growth_kb": rss_growth,
        "open_files_first": samples[0][1], "open_files_last": samples[-1][1],
        "threads_first": samples[0][2], "threads_last": samples[-1][2],
        "seconds": round(time.monotonic() - started, 1),
    })
