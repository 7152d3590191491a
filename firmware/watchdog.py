"""Telling systemd the kiosk is ready, and alive, from the gate loop itself.

Three layers keep an unattended gate from hanging (hardware/README.md, "Watchdogs"): the Pi's
hardware watchdog (systemd's `RuntimeWatchdogSec`) reboots a machine whose kernel or systemd
hangs; systemd's service watchdog (`WatchdogSec` in the unit) restarts a kiosk that stops saying
`WATCHDOG=1`; and this module says it only while the gate loop turns *and* every device thread
still makes progress, so a stuck loop, a dead camera thread or a wedged MQTT link all end in a
restart (the unit's `ExecStopPost` drives the relay off after it).

sd_notify is written here rather than taken from a library: it is one datagram of `KEY=VALUE`
lines on an AF_UNIX socket named by `$NOTIFY_SOCKET` (a leading `@` means Linux's abstract
namespace), the PyPI packages for it are unmaintained single files, and the C library would
need a compiled binding. Without `$NOTIFY_SOCKET` (a technician's shell, the simulator) every
message is a no-op.

Device threads are watched through their clocks: the camera reader, thermometer sampler and
MQTT link each look at their clock at least every few hundred milliseconds in every state
(capturing, backing off, waiting for a broker), so a `ProgressClock` handed to one of them
records, from that thread only, when it last did. A thread that died or is stuck in a call
stops touching its clock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.clock import Clock

log = logging.getLogger(__name__)

# Longest silence allowed of each device thread before the feed stops (seconds of monotonic
# time). The link may sit in a blocking DNS lookup or TCP connect (connect_timeout_s) for a
# while; the camera and sensor threads never block that long.
DEVICE_STALL_S = 5.0
LINK_STALL_S = 30.0


def notify_address(value: str) -> str | bytes:
    """The socket address of `$NOTIFY_SOCKET`: a path, or an abstract name (leading `@`)."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


class Notifier:
    """Sends sd_notify messages; every call is a no-op when there is no socket to send to."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """One datagram of `lines`; False (logged once per failure) if it could not be sent."""
        if self.address is None:
            return False
        data = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._sock is None:
                    kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    self._sock = socket.socket(socket.AF_UNIX, kind)
                self._sock.sendto(data, notify_address(self.address))
                return True
            except OSError as exc:
                log.warning("sd_notify to %s failed: %s", self.address, exc)
                return False

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def keepalive(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_period_s(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float:
    """systemd's watchdog period from `$WATCHDOG_USEC`, or 0 when not asked to keep alive.

    As sd_watchdog_enabled(3): `$WATCHDOG_PID`, when set, must be this process.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        owner = env.get("WATCHDOG_PID")
        if owner and int(owner) != (os.getpid() if pid is None else pid):
            return 0.0
    except ValueError:
        log.warning("WATCHDOG_USEC/WATCHDOG_PID not integers; no keep-alives")
        return 0.0
    return usec / 1e6 if usec > 0 else 0.0


class ProgressClock:
    """A clock that notes when one named thread last used it (see the module docstring)."""

    def __init__(self, inner: Clock, thread_name: str) -> None:
        self._inner = inner
        self.thread_name = thread_name
        self.last_progress: float | None = None

    def _note(self, now: float) -> None:
        if threading.current_thread().name == self.thread_name:
            self.last_progress = now

    def time(self) -> float:
        self._note(self._inner.monotonic())
        return self._inner.time()

    def monotonic(self) -> float:
        now = self._inner.monotonic()
        self._note(now)
        return now

    def sleep(self, seconds: float) -> None:
        self._note(self._inner.monotonic())
        self._inner.sleep(seconds)

    def synced(self) -> bool:
        return self._inner.synced()


@dataclass
class _Check:
    name: str
    ok: Callable[[float], bool]


@dataclass
class Watchdog:
    """Feeds systemd's watchdog from the gate loop's `beat(now)`, only while all checks pass.

    `period_s` is systemd's whole period (0: no keep-alives are wanted); a keep-alive goes out
    at most every half of it. `now` is monotonic seconds of the gate's clock.
    """

    notifier: Notifier
    period_s: float
    checks: list[_Check] = field(default_factory=list)
    last_sent: float | None = None
    failing: str | None = None
    started_at: float = 0.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Watchdog:
        return cls(Notifier.from_environ(environ), watchdog_period_s(environ))

    def add_check(self, name: str, ok: Callable[[float], bool]) -> None:
        """`ok(now)` must be True for a keep-alive to go out."""
        self.checks.append(_Check(name, ok))

    def watch_thread(self, clock: Clock, thread_name: str, stall_s: float) -> ProgressClock:
        """A clock for the device whose thread is `thread_name`; the feed stops when that
        thread has not used it for `stall_s` (or never did, `stall_s` after `ready`)."""
        progress = ProgressClock(clock, thread_name)

        def ok(now: float) -> bool:
            last = progress.last_progress
            since = self.started_at if last is None else max(last, self.started_at)
            return now - since <= stall_s

        self.add_check(thread_name, ok)
        return progress

    def ready(self, now: float, status: str = "running") -> None:
        """Start-up is over (relay off, outbox open, devices up): READY=1, once."""
        self.started_at = now
        self.notifier.ready(status)

    def stopping(self) -> None:
        self.notifier.stopping()

    def beat(self, now: float) -> bool:
        """Called by the gate loop every turn; True when a keep-alive was sent."""
        if self.period_s <= 0 or not self.notifier.enabled:
            return False
        failed = next((c.name for c in self.checks if not _passes(c, now)), None)
        if failed is not None:
            if self.failing != failed:
                self.failing = failed
                log.error("watchdog: %s made no progress; keep-alives stop", failed)
                self.notifier.status(f"{failed} stalled")
            return False
        if self.failing is not None:
            log.info("watchdog: %s is moving again", self.failing)
            self.failing = None
            self.notifier.status("running")
        if self.last_sent is not None and now - self.last_sent < self.period_s / 2:
            return False
        self.last_sent = now
        return self.notifier.keepalive()


def _passes(check: _Check, now: float) -> bool:
    try:
        return bool(check.ok(now))
    except Exception:  # a broken check is a failed check: better a restart than a hang
        log.exception("watchdog check %s raised", check.name)
        return False


# -- the hardware watchdog (armed by systemd's RuntimeWatchdogSec, see hardware/install.sh) ----

HW_WATCHDOG_SYSFS = Path("/sys/class/watchdog/watchdog0")
HW_WATCHDOG_MAX_S = 15  # bcm2835_wdt's longest period is 15.99 s


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def hardware_watchdog_status(sysfs: Path = HW_WATCHDOG_SYSFS) -> tuple[str, str, dict[str, Any]]:
    """(PASS|WARN|FAIL, detail, figures): is the board's watchdog armed, and how tight?

    Armed means the kernel reports `state` active, i.e. systemd opened the device with its
    RuntimeWatchdogSec. Unarmed on the Pi's own BCM2835 watchdog is a FAIL (a hung kernel would
    never reset the gate); on any other board, or without a device at all, a WARN.
    """
    if not sysfs.is_dir():
        return "WARN", f"no watchdog device at {sysfs} (not a Pi, or bcm2835_wdt not loaded)", {}
    identity = _read(sysfs / "identity") or "unknown"
    state = _read(sysfs / "state")
    timeout_text = _read(sysfs / "timeout")
    timeout = int(timeout_text) if timeout_text and timeout_text.isdigit() else None
    data: dict[str, Any] = {"identity": identity, "state": state, "timeout_s": timeout}
    on_pi = "bcm2835" in identity.lower()
    if state is None:
        return "WARN", f"{identity}: state unreadable at {sysfs}", data
    if state != "active":
        detail = (f"{identity} not armed (state {state}): set RuntimeWatchdogSec="
                  f"{HW_WATCHDOG_MAX_S} in /etc/systemd/system.conf.d (hardware/install.sh); "
                  f"kernels before 6.8 leave it unarmed above {HW_WATCHDOG_MAX_S} s")
        return ("FAIL" if on_pi else "WARN"), detail, data
    if timeout is None or timeout > HW_WATCHDOG_MAX_S + 1:
        return "WARN", f"{identity} armed, timeout {timeout_text or 'unknown'} s", data
    return "PASS", f"{identity} armed, resets a hung board after {timeout} s", data
