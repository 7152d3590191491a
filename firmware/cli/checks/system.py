"""Checks of the installation: config, the user running the check, the service, trusted keys,
the data directory, free disk and the clock."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from firmware import credentials, payloads, timesync
from firmware.cli.checks import FAIL, PASS, WARN, Check
from firmware.cli.technician import (
    SERVICE_NAME,
    SERVICE_USER,
    gatekiosk_command,
    private_key_members,
)
from firmware.clock import Clock
from firmware.config import Config, ConfigError, load

log = logging.getLogger(__name__)

# The outbox raises outbox_high_water below 64 MiB free; warn well before that.
LOW_DISK_WARN_BYTES = 256 * 1024 * 1024


def check_config(path: str) -> tuple[Check, Config | None]:
    """The configuration loads and validates."""
    try:
        cfg = load(path)
    except ConfigError as exc:
        return Check("config", FAIL, str(exc)), None
    d = cfg.device
    detail = (
        f"{path}: device {d.id}, {d.community}/{d.gate} ({d.direction}); "
        f"thermometer {cfg.thermometer.bus}, camera {cfg.camera.source}"
    )
    return Check("config", PASS, detail, {"path": path, "sha256": cfg.source_hash}), cfg


def check_user(service_user: str = SERVICE_USER) -> Check:
    """Who runs the check: file access is only meaningful as the service user."""
    import pwd

    uid = os.geteuid()
    try:
        me = pwd.getpwuid(uid).pw_name
    except KeyError:
        me = str(uid)
    try:
        pwd.getpwnam(service_user)
        service_user_exists = True
    except KeyError:
        service_user_exists = False
    data = {"user": me}
    if uid == 0 and service_user_exists:
        return Check(
            "user",
            WARN,
            f"running as root: file access is not what the service sees; run "
            f"`sudo -u {service_user} {gatekiosk_command()} selftest ...`",
            data,
        )
    return Check("user", PASS, f"running as {me}", data)


def service_running(service: str = SERVICE_NAME) -> bool | None:
    """True when systemd runs the kiosk service; None when systemd cannot be asked."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        result = subprocess.run(
            [systemctl, "is-active", "--quiet", service],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.returncode == 0


def check_service(probe: Callable[[], bool | None] = service_running) -> Check:
    """A running kiosk holds the camera and the GPIO lines: say so before those checks fail."""
    running = probe()
    if running is None:
        return Check("service", PASS, "no systemd here: not checked", {"running": None})
    if running:
        return Check(
            "service",
            WARN,
            f"{SERVICE_NAME} is running and holds the camera and GPIO: "
            "`sudo systemctl stop gatekiosk` for a full test",
            {"running": True},
        )
    return Check("service", PASS, f"{SERVICE_NAME} not running", {"running": False})


def _private_members(path: str) -> list[str]:
    try:
        return private_key_members(credentials.strict_json_loads(Path(path).read_bytes()))
    except (OSError, ValueError):
        return []  # KeySet.load has already said what is wrong with the file


def check_keys(name: str, path: str) -> Check:
    """A trusted-key file loads, and holds public keys only."""
    try:
        keys = credentials.KeySet.load(path)
    except credentials.KeySetError as exc:
        return Check(name, FAIL, str(exc), {"path": path})
    data = {"path": path, "keys": len(keys), "kids": keys.kids()}
    private = _private_members(path)
    if private:
        return Check(
            name,
            FAIL,
            f"{path} holds private key material ({', '.join(private)}): "
            "a gate needs only public keys",
            data,
        )
    count = f"{len(keys)} key{'s' if len(keys) != 1 else ''}"
    return Check(name, PASS, f"{path}: {count} ({', '.join(keys.kids())})", data)


def check_data_dir(cfg: Config) -> Check:
    """The data directory exists and a file can be written and synced in it."""
    path = Path(cfg.device.data_dir)
    data = {"path": str(path)}
    if not path.exists():
        return Check("data dir", FAIL, f"{path} does not exist", data)
    if not path.is_dir():
        return Check("data dir", FAIL, f"{path} is not a directory", data)
    try:
        fd, probe = tempfile.mkstemp(prefix=".selftest-", dir=path)
        try:
            os.write(fd, b"selftest\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return Check("data dir", FAIL, f"{path} is not writable: {exc.strerror or exc}", data)
    return Check("data dir", PASS, f"{path} is writable", data)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk_space(cfg: Config) -> Check:
    """Free space where the outbox lives."""
    from firmware.store.outbox import DEFAULT_MIN_FREE_BYTES

    where = _nearest_existing(Path(cfg.device.data_dir))
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Check("disk space", FAIL, f"{where}: {exc.strerror or exc}")
    data = {"path": str(where), "free_bytes": usage.free, "total_bytes": usage.total}
    detail = f"{usage.free / 1e9:.2f} GB free of {usage.total / 1e9:.2f} GB on {where}"
    if usage.free < DEFAULT_MIN_FREE_BYTES:
        return Check("disk space", FAIL, f"{detail}: the outbox is at its high-water mark", data)
    if usage.free < LOW_DISK_WARN_BYTES:
        return Check("disk space", WARN, f"{detail}: low", data)
    return Check("disk space", PASS, detail, data)


def check_clock(clock: Clock, probe: Callable[[], bool] = timesync.system_clock_synced) -> Check:
    """Is the wall clock synchronised (NTP, RTC)? Pass expiry depends on it."""
    now = payloads.iso_time(clock.time())
    try:
        synced = bool(probe())
    except Exception as exc:  # a probe that fails is an unknown clock, not a crash
        log.debug("clock probe failed: %s", exc)
        synced = False
    data = {"synced": synced, "utc": now}
    if synced:
        return Check("clock", PASS, f"synchronised, {now}", data)
    return Check(
        "clock", WARN, f"not synchronised ({now}): no NTP yet, or no RTC after a power cut", data
    )
