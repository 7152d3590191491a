"""The gate's MQTT 3.1.1 refusals hold on a NATS cluster: no Retain Handling there, so a
retained `open` reaches the gate flagged retained and must be refused; a replayed one too.

The whole gate on simulated hardware (`host_sim.rig`), its broker list the three nodes; the
commands are published on another node than the gate's, so they cross the cluster's routes.
"""

from __future__ import annotations

import json
import time

import pytest

from firmware import config, credentials
from firmware.clock import SystemClock
from firmware.core import status_list as sl
from host_sim.community_server import CommunityServer
from host_sim.rig import SimRig, write_keys

pytestmark = pytest.mark.cluster

COMMUNITY, GATE, DEVICE = "cluster-garden", "east-in", "gate-cluster"
URI = "https://cluster-garden.example/sl/1"


def step_until(rig, predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rig.step(0.02, read_camera=False)
        if predicate():
            return True
    return False


@pytest.fixture
def site(cluster, tmp_path):
    keys = write_keys(tmp_path / "keys")
    brokers = ", ".join(f'"{a}"' for a in cluster.mqtt_addresses)
    cfg = config.parse(f"""
[device]
id = "{DEVICE}"
community = "{COMMUNITY}"
gate = "{GATE}"
[mqtt]
protocol = "3.1.1"
brokers = [{brokers}]
backoff_initial_s = 0.2
backoff_max_s = 1.0
[door]
pulse_s = 0.5
""")
    server = CommunityServer(cluster.nodes[1].host, cluster.nodes[1].mqtt_port, COMMUNITY,
                             protocol="3.1.1").start()
    rig = SimRig(cfg, tmp_path / "gate", clock=SystemClock(lambda: True), keys=keys,
                 with_link=True)
    made = {"keys": keys, "server": server, "rig": rig, "link": None}
    try:
        yield made
    finally:
        if made["link"] is not None:
            made["link"].stop()
        rig.close()
        server.stop()


def _start(site):
    rig = site["rig"]
    link = rig.link
    assert link is not None
    site["link"] = link
    link.start()
    assert step_until(rig, lambda: link.connected), "gate never connected"
    return rig


def _command(keys, name, jti):
    now = int(time.time())
    token = credentials.sign_token(
        {"iss": COMMUNITY, "sub": "op-duty", "aud": GATE, "cmd": name, "jti": jti,
         "iat": now, "exp": now + 30}, keys["admin"], "gatecmd+jwt")
    return json.dumps({"schema": "gatekiosk/command/v1", "token": token}).encode()


def test_a_retained_open_reaches_the_gate_flagged_retained_and_never_opens_the_door(
        cluster, site, kit):
    topic = f"community/{COMMUNITY}/gate/{GATE}/cmd/open"
    kit.publish_311(cluster.mqtt_addresses[2], topic, _command(site["keys"], "open", "r-1"),
                    retain=True)
    rig = _start(site)
    server = site["server"]
    assert step_until(rig, lambda: server.cmd_results, 30.0), "no cmd-result"
    result = server.cmd_results[0]
    assert (result["ok"], result["reason"]) == (False, "retained")
    rig.run_for(0.5, dt=0.05, read_camera=False)
    assert not rig.sim_door.relay_energised
    assert server.record_count() == 0


def test_a_replayed_command_is_refused_and_the_status_list_arrives_over_the_cluster(
        cluster, site, kit):
    now = int(time.time())
    listing = credentials.sign_token(
        {"sub": URI, "iat": now, "exp": now + 86400,
         "status_list": {"bits": 2, "lst": sl.encode_lst([0] * 16)}},
        site["keys"]["issuer"], "statuslist+jwt")
    kit.publish_311(cluster.mqtt_addresses[2], f"community/{COMMUNITY}/status-list", listing,
                    retain=True)
    rig = _start(site)
    server = site["server"]
    assert step_until(rig, lambda: rig.gate.status.status_list is not None, 30.0)
    topic = f"community/{COMMUNITY}/gate/{GATE}/cmd/ping"
    payload = _command(site["keys"], "ping", "only-once")
    kit.publish_311(cluster.mqtt_addresses[2], topic, payload)
    assert step_until(rig, lambda: len(server.cmd_results) >= 1)
    assert server.cmd_results[0]["ok"] is True
    kit.publish_311(cluster.mqtt_addresses[0], topic, payload)
    assert step_until(rig, lambda: len(server.cmd_results) >= 2)
    assert (server.cmd_results[1]["ok"], server.cmd_results[1]["reason"]) == (False, "replayed")
    assert not rig.sim_door.relay_energised
