"""A damaged store at start: `gatekiosk run` keeps it aside (renamed, never deleted), starts a
fresh one, and tells the server directly; `selftest` FAILs on it before and after."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.clock import ManualClock
from firmware.store.damage import DAMAGED_MARK
from firmware.store.outbox import Outbox

from .test_run_process import site, start, wait  # noqa: F401  (site is a fixture)

pytestmark = pytest.mark.broker
DEVICE = "gate-run-1"


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, a bad SD card wrote it\n" * 200)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _outbox_with_rows(path: Path) -> None:
    with Outbox(path, clock=ManualClock()) as outbox:
        for _ in range(3):
            from firmware import payloads

            ident = payloads.Identity(DEVICE, "run-garden", "south-in", "in", "0" * 8)
            outbox.append("alarm", payloads.alarm(ident, "door_forced", 1.79e9, True))


def _counter_behind(path: Path) -> None:
    _outbox_with_rows(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'next_seq'")
    conn.close()


CASES = {
    "corrupt command ids": ("commands.db", "command_ids", _garbage),
    "empty command ids": ("commands.db", "command_ids", _empty),
    "corrupt outbox": ("outbox.db", "outbox", _garbage),
    "zero-length outbox": ("outbox.db", "outbox", _empty),
    "sequence counter behind": ("outbox.db", "outbox", _counter_behind),
}


def selftest(config: Path) -> tuple[int, str]:
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock")
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "selftest", "--config", str(config)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def events(config: Path, *argv: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "events", "--config", str(config), *argv],
        capture_output=True, text=True, timeout=60,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _kept_outbox_still_read(where: dict, case: str, kept: Path) -> None:
    """What SQLite can still read of a kept-aside outbox is listed and exported, untouched."""
    before = kept.read_bytes()
    rc, out, err = events(where["config"], "--outbox", str(kept))
    if case != "sequence counter behind":  # garbage or nothing: one line, exit 1
        assert (rc, out, err.count("\n")) == (1, "", 1), (rc, out, err)
        assert err.startswith("gatekiosk events: ")
        return
    assert rc == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["record"]["alarm"] for r in rows] == ["door_forced"] * 3
    rc, out, err = events(where["config"], "--outbox", str(kept), "--export",
                          str(where["tmp"] / "usb"))
    assert rc == 0 and "3 unacknowledged records" in out, (out, err)
    assert kept.read_bytes() == before, "reading the kept-aside outbox changed it"


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_store_is_kept_aside_replaced_and_reported(site, case):  # noqa: F811
    name, store, damage = CASES[case]
    data = site["tmp"] / "data"
    data.mkdir(exist_ok=True)
    damage(data / name)
    damaged_bytes = (data / name).read_bytes()
    rc, out = selftest(site["config"])
    assert rc == 1 and "Traceback" not in out
    assert any(line.startswith("FAIL") and ("outbox" in line or "stores" in line)
               for line in out.splitlines()), out
    assert (data / name).read_bytes() == damaged_bytes, "selftest must not touch the file"

    proc = start(site["config"], site["tmp"])
    server = site["server"]
    try:
        def reported():
            return [r for r in server.records(DEVICE, "0" * 32)
                    if r.payload.get("alarm") == "storage_fault"]

        assert wait(lambda: bool(reported()), timeout=60), (site["tmp"] / "run.log").read_text()
        [alarm] = reported()
        detail = alarm.payload["detail"]
        assert detail["what"] == store
        assert detail["kept_as"].startswith(name + DAMAGED_MARK)
        kept = data / detail["kept_as"]
        assert kept.read_bytes() == damaged_bytes, "kept aside byte for byte, never deleted"
        assert (data / name).exists() and (data / name).stat().st_size > 0
        assert proc.poll() is None, "the gate runs on with a fresh store"
    finally:
        proc.kill()
        proc.wait(timeout=20)
    assert "Traceback" not in (site["tmp"] / "run.log").read_text()
    assert server.problems == []
    if store == "outbox":
        _kept_outbox_still_read(site, case, kept)
    rc, out = selftest(site["config"])
    assert rc == 1
    assert any(line.startswith("FAIL") and "kept aside" in line for line in out.splitlines()), out
