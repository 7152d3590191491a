"""`gatekiosk run` as the service runs it: a process, a config file, signals.

On the host the config selects the simulated sensor and camera and gpiozero's mock pins; the
rest - start-up order, the MQTT link, birth and last-will records, SIGTERM handling - is the
code that runs on the Pi.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.rig import write_keys

pytestmark = pytest.mark.broker

COMMUNITY = "run-garden"
GATE = "south-in"


@pytest.fixture
def site(tmp_path):
    keys = write_keys(tmp_path / "keys")
    with MosquittoBroker(tmp_path / "broker") as broker:
        server = CommunityServer(
            broker.host, broker.port, COMMUNITY, validate=schemas.validate
        ).start()
        config = tmp_path / "gatekiosk.toml"
        config.write_text(
            f"""
[device]
id = "gate-run-1"
community = "{COMMUNITY}"
gate = "{GATE}"
data_dir = "{tmp_path / "data"}"
[thermometer]
bus = "sim"
[camera]
source = "sim"
width = 640
height = 480
[keys]
issuers = "{keys["issuers_path"]}"
admins = "{keys["admins_path"]}"
[mqtt]
brokers = ["{broker.host}:{broker.port}"]
backoff_initial_s = 0.2
"""
        )
        yield {"config": config, "server": server, "tmp": tmp_path}
        server.stop()


def start(config, tmp_path):
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock")
    return subprocess.Popen(
        [sys.executable, "-m", "firmware.cli", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "run.log", "wb"),
    )


def wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def state_of(server):
    return server.states.get(GATE, {}).get("state")


def test_the_service_comes_online_and_sigterm_stops_it_cleanly(site):
    proc = start(site["config"], site["tmp"])
    try:
        assert wait(lambda: state_of(site["server"]) == "online"), (
            site["tmp"] / "run.log"
        ).read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait(lambda: state_of(site["server"]) == "offline")
    log = (site["tmp"] / "run.log").read_text()
    assert "Traceback" not in log
    assert site["server"].problems == []


def test_a_killed_service_is_reported_offline_by_its_last_will(site):
    proc = start(site["config"], site["tmp"])
    try:
        assert wait(lambda: state_of(site["server"]) == "online"), (
            site["tmp"] / "run.log"
        ).read_text()
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The broker publishes the will when the keepalive lapses or the socket closes.
    assert wait(lambda: state_of(site["server"]) == "offline", timeout=60)


def test_a_bad_config_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[pins]\nrelay = 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "pins.relay" in proc.stderr
