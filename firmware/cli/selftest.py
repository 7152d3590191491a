"""`gatekiosk selftest --config FILE [--json] [--door] [--samples N]`: check a kiosk on site.

Each check prints one line, `PASS|WARN|FAIL  name  detail`, as soon as it is done, then a
summary. Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the
configuration (or the command line) is unusable. `--json` prints one JSON document instead.

It is safe next to a running kiosk: it opens no MQTT session and publishes nothing (brokers get
a bare TCP connect), only reads the outbox, and claims GPIO only for the indicator (shown idle)
and, with `--door` alone, the relay, which it pulses for one second (the door opens!) and always
drives off again. The running service holds the camera and the GPIO lines, so those checks fail
while it runs: `sudo systemctl stop gatekiosk` first for a full test. Run it as the service user
(`sudo -u gatekiosk ...`) to check file access as the service sees it.

Devices come from the configuration as `gatekiosk run` builds them: `[thermometer] bus = "pi"`
is the MLX90614 on the Pi's I2C through Blinka, `"sim"` the simulated sensor of `host_sim`;
`[camera] source = "pi"` is picamera2, `"sim"` rendered frames. Both are imported only when used.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware import __version__, credentials, payloads, timesync, watchdog
from firmware.assemble import open_camera, open_thermometer_bus
from firmware.clock import Clock, SystemClock
from firmware.config import Config, ConfigError, load

if TYPE_CHECKING:
    from firmware.hw.code_reader import Camera
    from firmware.hw.smbus_pec import I2CBus

log = logging.getLogger(__name__)

PASS = "PASS"
WARN = "WARN"
FAIL = "FAIL"

DEFAULT_SAMPLES = 8
MAX_SAMPLES = 100
CAMERA_FRAMES = 8
BROKER_TIMEOUT_S = 3.0
RELAY_TEST_PULSE_S = 1.0
# How much longer than asked the relay may take to drop before the check calls it stuck.
RELAY_DROP_MARGIN_S = 0.5
RELAY_POLL_S = 0.02
# The room range in which the compensation model holds well (FIELD-NOTES, temperature).
ROOM_RANGE_C = (16.0, 32.0)
# The outbox raises outbox_high_water below 64 MiB free; warn well before that.
LOW_DISK_WARN_BYTES = 256 * 1024 * 1024
SERVICE_NAME = "gatekiosk.service"
SERVICE_USER = "gatekiosk"
# The simulated room, for `bus = "sim"`.
NAME_WIDTH = 12


@dataclass
class Check:
    """One line of the checklist. `data` holds the figures for --json."""

    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, **self.data}


def gatekiosk_command() -> str:
    """This installation's `gatekiosk` (the venv's bin is rarely on a technician's PATH)."""
    beside = Path(sys.executable).parent / "gatekiosk"
    return str(beside) if beside.exists() else "gatekiosk"


def one_line(exc: BaseException) -> str:
    """An exception as one short line (for a technician, never a traceback)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:240]


# -- devices from the configuration -----------------------------------------------------------


# -- checks -----------------------------------------------------------------------------------


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
    from firmware.cli.provision import private_key_members

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


def check_stores(cfg: Config) -> Check:
    """The record of used command ids passes its integrity check, and no damaged store is
    kept aside in the data dir (README: what a technician does when a store is damaged)."""
    from firmware.assemble import COMMAND_IDS_FILE
    from firmware.store.damage import database_verdict, kept_aside

    data_dir = Path(cfg.device.data_dir)
    kept = [p.name for p in kept_aside(data_dir)]
    data: dict[str, Any] = {"kept_aside": kept}
    ids = data_dir / COMMAND_IDS_FILE
    verdict = database_verdict(ids) if ids.is_file() else None
    if verdict is not None:
        return Check("stores", FAIL, f"{ids}: {verdict}", data)
    if kept:
        return Check("stores", FAIL, f"damaged store kept aside: {', '.join(kept)}", data)
    return Check("stores", PASS, "command ids intact, nothing kept aside", data)


def check_outbox(cfg: Config, clock: Clock) -> Check:
    """The outbox opens with its integrity check; its depth and what is not yet settled."""
    from firmware.assemble import open_outbox
    from firmware.store.outbox import OutboxError

    data_dir = Path(cfg.device.data_dir)
    db = data_dir / "outbox.db"
    if not db.exists():
        # Not created here: made by root, it would lock the service user out of its own file.
        return Check("outbox", WARN, f"no {db} yet (`gatekiosk run` creates it)", {"path": str(db)})
    try:
        outbox = open_outbox(cfg, data_dir, clock)
    except (OutboxError, OSError, ValueError) as exc:
        return Check("outbox", FAIL, one_line(exc), {"path": str(db)})
    try:
        depth, unsettled = outbox.depth(), outbox.unsettled()
        oldest, high_water = outbox.oldest_unsettled(), outbox.high_water()
        data = {
            "path": str(db),
            "stream": outbox.stream,
            "depth": depth,
            "unsettled": unsettled,
            "oldest_unsettled_seq": oldest,
            "last_seq": outbox.last_seq(),
            "high_water": high_water,
        }
    except (OutboxError, OSError) as exc:
        return Check("outbox", FAIL, one_line(exc), {"path": str(db)})
    finally:
        with contextlib.suppress(OutboxError):
            outbox.close()
    detail = f"integrity ok, {depth} rows, {unsettled} unsettled (stream {outbox.stream[:8]})"
    if high_water:
        return Check("outbox", WARN, f"{detail}: above the high-water mark", data)
    return Check("outbox", PASS, detail, data)


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


def check_thermometer(cfg: Config, clock: Clock, samples: int, bus: I2CBus | None = None) -> Check:
    """`samples` reads through the real driver path, spaced at the configured rate."""
    from firmware.hw.thermometer import Sample, Thermometer, ThermometerFault, release_bus

    opened_here = bus is None
    try:
        if bus is None:
            bus = open_thermometer_bus(cfg, clock)
        thermometer = Thermometer(bus, cfg.thermometer, clock)
    except Exception as exc:  # Blinka raises anything from ImportError to RuntimeError
        return Check("thermometer", FAIL, f"cannot open the I2C bus: {one_line(exc)}")
    good: list[Sample] = []
    faults: list[ThermometerFault] = []
    try:
        for index in range(samples):
            if index:
                clock.sleep(1.0 / cfg.thermometer.sample_hz)
            try:
                good.append(thermometer.read())
            except ThermometerFault as error:
                faults.append(error)
    finally:
        if opened_here:
            release_bus(bus)
    data: dict[str, Any] = {"reads": samples, "good": len(good), "failed": len(faults)}
    if faults:
        data["fault"] = faults[-1].code
    if not good:
        fault = faults[-1]
        return Check(
            "thermometer",
            FAIL,
            f"no reading in {samples} tries: {fault.code}: {fault.detail}",
            data,
        )
    ambient = statistics.median(s.ambient_c for s in good)
    obj = statistics.median(s.object_c for s in good)
    present = sum(1 for s in good if s.person_present)
    emissivity = thermometer.sensor_emissivity
    data.update(
        ambient_c=round(ambient, 2),
        object_c=round(obj, 2),
        person_present=present,
        sensor_emissivity=None if emissivity is None else round(emissivity, 4),
    )
    someone = f"someone in view in {present}" if present else "nobody in view"
    detail = (
        f"{len(good)}/{samples} reads: ambient {ambient:.2f} °C, object {obj:.2f} °C, {someone}"
    )
    low, high = ROOM_RANGE_C
    if faults:
        last = faults[-1]
        return Check("thermometer", WARN, f"{detail}; {len(faults)} failed: {last.code}", data)
    if not low <= ambient <= high:
        return Check(
            "thermometer",
            WARN,
            f"{detail}: the room is outside {low:g}–{high:g} °C, where the model holds well",
            data,
        )
    return Check("thermometer", PASS, detail, data)


def check_camera(
    cfg: Config, clock: Clock, frames: int = CAMERA_FRAMES, camera: Camera | None = None
) -> Check:
    """Start the camera, read `frames` frames through the real reader and decoder."""
    from firmware.hw.code_reader import CodeReader
    from firmware.hw.qr_decode import make_decoder

    try:
        decoder = make_decoder(cfg.camera.decoder)
        if camera is None:
            camera = open_camera(cfg, clock)
    except Exception as exc:  # a missing decoder library or camera stack
        return Check("camera", FAIL, one_line(exc))
    codes: list[bytes] = []
    faults: list[str] = []
    reader = CodeReader(
        camera,
        decoder,
        clock,
        codes.append,
        lambda _code, detail: faults.append(detail),
        absence_s=cfg.camera.absence_s,
    )
    frame_times: list[float] = []
    try:
        for _ in range(frames):
            reader.step()
            if faults:
                break
            frame_times.append(clock.monotonic())
    finally:
        reader.stop()
    stats = reader.stats()
    size = f"{cfg.camera.width}x{cfg.camera.height}"
    data: dict[str, Any] = {
        "source": cfg.camera.source,
        "decoder": decoder.name,
        "frames": stats["frames"],
        "codes": len(codes),
    }
    if faults:
        return Check("camera", FAIL, faults[0], data)
    fps = None
    if len(frame_times) >= 2 and frame_times[-1] > frame_times[0]:
        fps = (len(frame_times) - 1) / (frame_times[-1] - frame_times[0])
    decode_ms = stats["decode_ms"]
    data.update(
        frame_rate_hz=None if fps is None else round(fps, 1),
        decode_ms=None if decode_ms is None else round(decode_ms, 1),
    )
    rate = "" if fps is None else f" at {fps:.1f} fps"
    timing = "" if decode_ms is None else f", {decoder.name} {decode_ms:.0f} ms/frame"
    detail = f"{stats['frames']} frames {size}{rate}{timing}"
    if not codes:
        return Check("camera", WARN, f"{detail}; no code in view", data)
    # The code names a pass: only its size is shown.
    return Check("camera", PASS, f"{detail}; read a code ({len(codes[0])} bytes)", data)


def check_broker(address: str, timeout_s: float = BROKER_TIMEOUT_S) -> Check:
    """A TCP connection to the broker, closed at once: no MQTT session, nothing published."""
    from firmware.link.settings import parse_broker

    try:
        host, port = parse_broker(address)
    except ValueError as exc:
        return Check("broker", FAIL, str(exc), {"address": address})
    data: dict[str, Any] = {"address": address}
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError:
        return Check("broker", FAIL, f"{address}: no answer within {timeout_s:g} s", data)
    except OSError as exc:
        return Check("broker", FAIL, f"{address}: {exc.strerror or one_line(exc)}", data)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    data["connect_ms"] = round(elapsed_ms, 1)
    return Check("broker", PASS, f"{address} accepts connections ({elapsed_ms:.0f} ms)", data)


def _refuse_password() -> bytes:
    # An encrypted key would make OpenSSL prompt on the terminal; the kiosk cannot answer.
    return b""


def check_mqtt_credentials(cfg: Config) -> Check | None:
    """TLS files and the password file load (None when none are configured)."""
    m = cfg.mqtt
    if not (m.tls.ca or m.password_file):
        return None
    try:
        if m.tls.ca:
            context = ssl.create_default_context(cafile=m.tls.ca)
            if m.tls.cert:
                context.load_cert_chain(m.tls.cert, m.tls.key, password=_refuse_password)
        if m.password_file:
            Path(m.password_file).read_text(encoding="utf-8")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Check("mqtt auth", FAIL, one_line(exc))
    parts = []
    if m.tls.ca:
        parts.append("CA loads" + (", certificate and key match" if m.tls.cert else ""))
    if m.password_file:
        parts.append("password file readable")
    return Check("mqtt auth", PASS, "; ".join(parts))


def _pin_factory_name() -> str:
    from gpiozero import Device

    factory = Device.pin_factory
    return "none yet" if factory is None else type(factory).__name__


def check_relay(cfg: Config, pulse_s: float = RELAY_TEST_PULSE_S) -> Check:
    """Pulse the door relay (the door opens!) and see it drop by itself; always off after."""
    from firmware.hw.door import Door

    pins = cfg.pins
    try:
        door = Door(pins, cfg.door)
    except Exception as exc:  # a line held by another process, no GPIO at all, ...
        return Check("relay", FAIL, f"GPIO{pins.relay}: {one_line(exc)}")
    data: dict[str, Any] = {"gpio": pins.relay, "pin_factory": _pin_factory_name()}
    try:
        shut_before = not door.is_open
        started = time.monotonic()
        granted = door.pulse(pulse_s)
        if granted <= 0:
            return Check("relay", FAIL, f"GPIO{pins.relay}: the relay refused the pulse", data)
        opened_during = False
        deadline = started + granted + RELAY_DROP_MARGIN_S
        while door.relay.is_active and time.monotonic() < deadline:
            opened_during = opened_during or door.is_open
            time.sleep(RELAY_POLL_S)
        on_s = time.monotonic() - started
        dropped = not door.relay.is_active
    finally:
        door.close()  # relay off first, whatever happened above
    data.update(on_s=round(on_s, 2), contact_shut_before=shut_before)
    if not dropped:
        return Check(
            "relay", FAIL, f"GPIO{pins.relay}: still on after {on_s:.2f} s; forced off", data
        )
    if not shut_before:
        contact = "door contact reads open (door open, or its wire cut)"
    elif opened_during:
        contact = "the door opened during the pulse"
    else:
        contact = "door contact stayed shut (nobody pushed the door)"
    return Check("relay", PASS, f"GPIO{pins.relay} on for {on_s:.2f} s, then off; {contact}", data)


class _SilentPrompts:
    """The check shows the idle pattern; its prompt text is of no use here."""

    def prompt(self, text_by_lang: dict[str, str]) -> None:
        pass


def check_indicator(cfg: Config) -> Check:
    """Claim the LEDs and the buzzer and show the idle pattern (everything off)."""
    from firmware.hw.indicator import Indicator

    pins = cfg.pins
    gpios = f"GPIO{pins.led_green}/{pins.led_red}/{pins.buzzer}"
    try:
        indicator = Indicator(pins, prompt_sink=_SilentPrompts())
    except Exception as exc:
        return Check("indicator", FAIL, f"{gpios}: {one_line(exc)}")
    try:
        indicator.show("idle")
    finally:
        indicator.close()
    return Check(
        "indicator",
        PASS,
        f"{gpios} claimed, idle shown (all off); pin factory {_pin_factory_name()}",
        {"pin_factory": _pin_factory_name()},
    )


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Probes:
    """What the checks ask of the system besides the configured devices (tests replace it)."""

    clock_synced: Callable[[], bool] = timesync.system_clock_synced
    service_running: Callable[[], bool | None] = service_running
    thermometer_bus: I2CBus | None = None
    camera: Camera | None = None
    hardware_watchdog: Path = watchdog.HW_WATCHDOG_SYSFS


def run_checks(
    cfg: Config,
    *,
    samples: int = DEFAULT_SAMPLES,
    door: bool = False,
    clock: Clock | None = None,
    probes: Probes | None = None,
) -> Iterator[Check]:
    """Every check after the configuration's, in checklist order, each as soon as it is done.

    A check that raises unexpectedly becomes a FAIL line: the list always completes.
    """
    probes = probes or Probes()
    clock = clock or SystemClock(probes.clock_synced)
    steps: list[tuple[str, Callable[[], Check | None]]] = [
        ("user", check_user),
        ("service", lambda: check_service(probes.service_running)),
        ("issuer keys", lambda: check_keys("issuer keys", cfg.keys.issuers)),
        ("admin keys", lambda: check_keys("admin keys", cfg.keys.admins)),
        ("data dir", lambda: check_data_dir(cfg)),
        ("outbox", lambda: check_outbox(cfg, clock)),
        ("stores", lambda: check_stores(cfg)),
        ("disk space", lambda: check_disk_space(cfg)),
        ("clock", lambda: check_clock(clock, probes.clock_synced)),
        ("hw watchdog", lambda: Check("hw watchdog",
                                      *watchdog.hardware_watchdog_status(probes.hardware_watchdog))),
        ("thermometer", lambda: check_thermometer(cfg, clock, samples, probes.thermometer_bus)),
        ("camera", lambda: check_camera(cfg, clock, camera=probes.camera)),
        ("mqtt auth", lambda: check_mqtt_credentials(cfg)),
    ]
    for address in cfg.mqtt.brokers:
        steps.append(("broker", functools.partial(check_broker, address)))
    if door:
        steps.append(("relay", lambda: check_relay(cfg)))
    steps.append(("indicator", lambda: check_indicator(cfg)))
    for name, step in steps:
        try:
            check = step()
        except Exception as exc:  # a bug in one check must not hide the others
            log.debug("check %s raised", name, exc_info=True)
            check = Check(name, FAIL, f"check failed unexpectedly: {one_line(exc)}")
        if check is not None:
            yield check


def summarise(checks: list[Check]) -> dict[str, int]:
    """Counts per status."""
    return {status: sum(1 for c in checks if c.status == status) for status in (PASS, WARN, FAIL)}


def format_line(check: Check) -> str:
    """`PASS  name        detail`."""
    return f"{check.status}  {check.name:<{NAME_WIDTH}}  {check.detail}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="configuration file (TOML)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--door",
        action="store_true",
        help=f"also pulse the door relay for {RELAY_TEST_PULSE_S:g} s (the door opens!)",
    )
    parser.add_argument(
        "--samples",
        type=_sample_count,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"thermometer reads (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument("--verbose", action="store_true", help="log what the drivers do")


def _sample_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in 1..{MAX_SAMPLES}")
    return int(text)


@contextlib.contextmanager
def quiet_logging(verbose: bool) -> Iterator[None]:
    """Driver logs (with their tracebacks) only when asked for: the checklist says it all.

    Restores the previous state afterwards, so a caller in the same process keeps its logs.
    """
    if verbose:
        from firmware.cli.run import setup_logging

        setup_logging("DEBUG")
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def main(args: argparse.Namespace, probes: Probes | None = None) -> int:
    """Run the checklist; 0 nothing failed, 1 something failed, 2 unusable configuration."""
    with quiet_logging(args.verbose):
        try:
            return _run(args, probes)
        except Exception as exc:  # a bug still ends in one line, never a traceback
            log.debug("selftest failed", exc_info=True)
            sys.stderr.write(f"gatekiosk selftest: internal error: {one_line(exc)}\n")
            return 1


def _run(args: argparse.Namespace, probes: Probes | None) -> int:
    out = sys.stdout
    first, cfg = check_config(args.config)
    checks = [first]
    if not args.json:
        out.write(format_line(first) + "\n")
        out.flush()
    if cfg is not None:
        # Driver libraries print warnings of their own (Blinka on an unknown board): to
        # stderr with them, so that stdout holds the checklist or the JSON and nothing else.
        with contextlib.redirect_stdout(sys.stderr):
            for check in run_checks(cfg, samples=args.samples, door=args.door, probes=probes):
                checks.append(check)
                if not args.json:
                    out.write(format_line(check) + "\n")
                    out.flush()
    counts = summarise(checks)
    code = 2 if cfg is None else (1 if counts[FAIL] else 0)
    if args.json:
        document = {
            "config": args.config,
            "device_id": None if cfg is None else cfg.device.id,
            "firmware": __version__,
            "time": payloads.iso_time(time.time()),
            "checks": [c.as_dict() for c in checks],
            "passed": counts[PASS],
            "warnings": counts[WARN],
            "failed": counts[FAIL],
            "exit_code": code,
        }
        out.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")
        return code
    if cfg is None:
        sys.stderr.write("gatekiosk selftest: fix the configuration first\n")
        return code
    verdict = "ready" if code == 0 else "not ready: fix what FAILed and run it again"
    out.write(
        f"selftest: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed"
        f" — {verdict}\n"
    )
    if not args.door:
        out.write("(relay not tested: --door pulses it, and the door opens)\n")
    return code
