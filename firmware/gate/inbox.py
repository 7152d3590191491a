"""The gate's single queue and what is posted to it: one named type per observation.

Devices and the MQTT link post from their own threads; only the gate loop takes. What may be
dropped when the loop falls behind is decided by kind, not by arrival: thermometer samples are
replaceable (a newer one is worth more), so when the queue is full the oldest sample goes first;
network messages have a share of their own, so a flood of commands cannot push out a code, a
door alarm or an exit-button press. Nothing else is ever dropped.

Commands are also rate-limited (a token bucket, `COMMAND_RATE_PER_S` with bursts of
`COMMAND_BURST`), and a payload larger than any genuine one is cut to one byte past the limit
before it is queued, so the loop refuses it without parsing it. A command refused here is not
silently lost: it is counted by name and the gate loop answers each one with a `busy`
cmd-result (`take_refused_commands`). Among 10,000 junk commands, a genuine signed `ping` is
therefore either verified and answered or refused with `busy` — the operator sends it again.
Memory stays bounded: only counts are kept, per name, for at most `MAX_REFUSED_NAMES` names
(names of the command table always have a slot; junk names past the limit are only counted in
`dropped`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# A loop that keeps up holds a handful; these bound memory when it does not.
MAX_SAMPLES = 64
MAX_NETWORK = 64
MAX_OTHER = 1024
# A genuine command token is at most 2048 characters (commands.auth); its JSON wrapper adds little.
MAX_COMMAND_BYTES = 4096
# A status list of a million entries is ~250 KB of base64url before compression helps.
MAX_STATUS_LIST_BYTES = 1 << 20
COMMAND_RATE_PER_S = 5.0
COMMAND_BURST = 20
MAX_REFUSED_NAMES = 64


@dataclass(frozen=True)
class Observation:
    """Something a device or the network saw, stamped with when it was posted."""

    posted_at: float = field(default_factory=time.monotonic, kw_only=True)


@dataclass(frozen=True)
class CodeSeen(Observation):
    code: bytes


@dataclass(frozen=True)
class SampleTaken(Observation):
    sample: Any  # firmware.hw.thermometer.Sample


@dataclass(frozen=True)
class DeviceFault(Observation):
    device: str  # "sensor" or "camera"
    code: str
    detail: str


@dataclass(frozen=True)
class DeviceRecovered(Observation):
    device: str


@dataclass(frozen=True)
class ExitRequest(Observation):
    pass


@dataclass(frozen=True)
class DoorAlarm(Observation):
    name: str
    state: str  # "raised" or "cleared"
    detail: dict[str, Any]


@dataclass(frozen=True)
class NetworkMessage(Observation):
    kind: str  # "status-list" or "cmd"
    name: str | None
    payload: bytes
    retained: bool


@dataclass(frozen=True)
class AckRefused(Observation):
    stream: str
    through_seq: int
    sent_through: int


class Inbox:
    """The gate's queue. Devices' callbacks post here from their own threads."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        command_names: Collection[str] = (),
    ) -> None:
        self._monotonic = monotonic
        self._command_names = frozenset(command_names)
        self._tokens = float(COMMAND_BURST)
        self._tokens_at = monotonic()
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queue: deque[Observation] = deque()
        self._samples = 0
        self._network = 0
        self.dropped: dict[str, int] = {"sample": 0, "network": 0, "other": 0}

    def post(self, obs: Observation) -> None:
        """Queue `obs`; when its share is full, drop by the rules in the module doc."""
        with self._lock:
            if isinstance(obs, SampleTaken):
                if self._samples >= MAX_SAMPLES:
                    self._drop_oldest_sample()
                self._samples += 1
            elif isinstance(obs, NetworkMessage):
                if obs.kind == "cmd" and not self._admit_command():
                    self._refuse_command(obs.name or "")
                    return
                if self._network >= MAX_NETWORK:
                    if obs.kind == "cmd":
                        self._refuse_command(obs.name or "")
                        return
                    self.dropped["network"] += 1
                    log.warning("gate inbox: network share full, %s message dropped", obs.kind)
                    return
                self._network += 1
            elif len(self._queue) - self._samples - self._network >= MAX_OTHER:
                self.dropped["other"] += 1
                log.error("gate inbox full: %s dropped", type(obs).__name__)
                return
            self._queue.append(obs)
            self._ready.notify()

    def _admit_command(self) -> bool:
        now = self._monotonic()
        elapsed = max(0.0, now - self._tokens_at)
        self._tokens_at = now
        self._tokens = min(float(COMMAND_BURST), self._tokens + elapsed * COMMAND_RATE_PER_S)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _refuse_command(self, name: str) -> None:
        if name in self._refused or name in self._command_names:
            self._refused[name] = self._refused.get(name, 0) + 1
        elif len(self._refused) < MAX_REFUSED_NAMES:
            self._refused[name] = 1
        else:
            self.dropped["network"] += 1
            return
        self._ready.notify()

    def take_refused_commands(self, limit: int) -> list[str]:
        """Up to `limit` names of commands refused here, one per command, to answer `busy`."""
        out: list[str] = []
        with self._lock:
            for name in list(self._refused):
                while self._refused[name] and len(out) < limit:
                    self._refused[name] -= 1
                    out.append(name)
                if not self._refused[name]:
                    del self._refused[name]
                if len(out) >= limit:
                    break
        return out

    def refused_pending(self) -> int:
        """Commands refused here and not yet answered."""
        with self._lock:
            return sum(self._refused.values())

    def _drop_oldest_sample(self) -> None:
        for i, queued in enumerate(self._queue):
            if isinstance(queued, SampleTaken):
                del self._queue[i]
                self._samples -= 1
                self.dropped["sample"] += 1
                return

    def get(self, timeout: float | None) -> Observation | None:
        """The next observation, waiting up to `timeout` s (None or 0: do not wait)."""
        with self._lock:
            if not self._queue and timeout:
                self._ready.wait(timeout)
            if not self._queue:
                return None
            obs = self._queue.popleft()
            if isinstance(obs, SampleTaken):
                self._samples -= 1
            elif isinstance(obs, NetworkMessage):
                self._network -= 1
            return obs

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    # Callbacks with the signatures the device drivers and the link expect.
    def code(self, code: bytes) -> None:
        self.post(CodeSeen(code))

    def sample(self, sample: Any) -> None:
        self.post(SampleTaken(sample))

    def sensor_fault(self, code: str, detail: str) -> None:
        self.post(DeviceFault("sensor", code, detail))

    def sensor_recovered(self) -> None:
        self.post(DeviceRecovered("sensor"))

    def camera_fault(self, code: str, detail: str) -> None:
        self.post(DeviceFault("camera", code, detail))

    def camera_recovered(self) -> None:
        self.post(DeviceRecovered("camera"))

    def exit_request(self) -> None:
        self.post(ExitRequest())

    def door_alarm(self, name: str, state: str, detail: dict[str, Any]) -> None:
        self.post(DoorAlarm(name, state, detail))

    def mqtt_message(self, kind: str, name: str | None, payload: bytes, retained: bool) -> None:
        limit = MAX_COMMAND_BYTES if kind == "cmd" else MAX_STATUS_LIST_BYTES
        # One byte past the limit is enough for the loop to refuse it; the rest is not kept.
        self.post(NetworkMessage(kind, name, payload[: limit + 1], retained))

    def ack_refused(self, stream: str, through_seq: int, sent_through: int) -> None:
        self.post(AckRefused(stream, through_seq, sent_through))
