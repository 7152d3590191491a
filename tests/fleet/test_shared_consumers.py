"""The stand-in's MQTT 5 path: consumers in one `$share/` group on a real Mosquitto 2.x.

The fleet runs with `--broker` (no cluster), MQTT 5 gates and `--shared`: every consumer takes
the community's event and alarm wildcards in one share group, so the broker hands each record
to one of them. They commit to one store (an ack must cover what any of them committed); each
notes which consumer stored a record first, so the test can see the load was shared.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest


@pytest.mark.timeout(240)
def test_shared_consumers_split_the_records_and_store_each_once(mosquitto, tmp_path):
    work = tmp_path / "fleet"
    done = subprocess.run(
        [sys.executable, "-m", "host_sim.cli", "fleet", "--broker", mosquitto.address,
         "--protocol", "5", "--shared", "--gates", "12", "--workers", "2", "--partitions", "3",
         "--duration", "4", "--rate", "3", "--workdir", str(work)],
        capture_output=True, text=True, timeout=200, start_new_session=True)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    summary = json.loads(lines[-1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary["stored"] == summary["events_sent"] > 50
    assert (summary["gaps"], summary["conflicts"]) == (0, 0)
    # Each record went to one consumer of the group; copies come only from the gates' resends
    # (without the group every consumer would get every record: two extra copies each).
    assert summary["duplicates"] < summary["events_sent"] / 2, summary
    conn = sqlite3.connect(work / "server.db")
    try:
        by_consumer = dict(conn.execute(
            "SELECT first_by, count(*) FROM records GROUP BY first_by").fetchall())
        rows = conn.execute("SELECT count(*), count(DISTINCT device_id || stream || seq)"
                            " FROM records").fetchone()
    finally:
        conn.close()
    assert rows[0] == rows[1] == summary["events_sent"]  # each record held once
    assert len(by_consumer) >= 2, by_consumer  # the broker spread them over the group
