"""`gatekiosk provision`: write this kiosk's identity, trusted keys and brokers into its config.

    gatekiosk provision --config /etc/gatekiosk/gatekiosk.toml --device-id gate-0042 \\
        --community sunshine-garden --gate north-1 --direction in \\
        --broker broker.example:8883 [--broker ...] --issuers issuers.jwks --admins admins.jwks \\
        [--tls-ca ca.pem --tls-cert gate.pem --tls-key gate.key] [--data-dir DIR] \\
        [--keys-dir /etc/gatekiosk] [--force] [--json]

Everything is checked before anything is written (`firmware.cli.provision_input`): ids
against `[a-z0-9-]{1,64}`, brokers as HOST:PORT, each JWKS with the firmware's own key loader
and refused when it holds private key material (a gate verifies; it never signs, and a stolen SD
card must not mint passes), TLS files loaded as the MQTT link will load them. The JWKS files are
copied into the keys directory (mode 0644), then the config file (mode 0644) is written next to
its final place, loaded with `firmware.config.load`, compared with what was asked, and only then
moved over the old one. Only the keys given are written; every other key keeps its default
(hardware/gatekiosk.toml.example lists them all).

Exit 0 when written; 2 for bad arguments or input files (one line on stderr); 1 when an
existing file would be replaced without --force, or writing fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import payloads
from firmware.cli.errors import ERROR_CHARS
from firmware.cli.provision_input import (
    ProvisionError,
    check_brokers,
    check_ids,
    check_jwks,
    check_tls,
)
from firmware.cli.technician import SERVICE_USER, gatekiosk_command
from firmware.config import Config, ConfigError, load, parse
from firmware.errors import one_line
from firmware.store.files import commit_file, stage_file

DEFAULT_KEYS_DIR = "/etc/gatekiosk"
ISSUERS_FILE = "issuers.jwks"
ADMINS_FILE = "admins.jwks"
CONFIG_MODE = 0o644
PUBLIC_KEY_MODE = 0o644
DIR_MODE = 0o755


def configure(parser: argparse.ArgumentParser) -> None:
    """Add provision's arguments."""
    parser.add_argument("--config", required=True, help="config file to write (TOML)")
    parser.add_argument("--device-id", required=True, help="this kiosk's id (MQTT client id)")
    parser.add_argument("--community", required=True, help="community id")
    parser.add_argument("--gate", required=True, help="gate id")
    parser.add_argument("--direction", required=True, choices=("in", "out"))
    parser.add_argument(
        "--broker",
        required=True,
        action="append",
        metavar="HOST:PORT",
        help="MQTT broker; repeat for fall-backs, tried in order",
    )
    parser.add_argument("--issuers", required=True, help="pass issuers' public keys (JWKS)")
    parser.add_argument("--admins", required=True, help="admins' public keys (JWKS)")
    parser.add_argument("--tls-ca", help="CA certificate of the broker (PEM)")
    parser.add_argument("--tls-cert", help="this kiosk's client certificate (PEM)")
    parser.add_argument("--tls-key", help="this kiosk's client key (PEM, unencrypted)")
    parser.add_argument("--data-dir", help="outbox and state (default /var/lib/gatekiosk)")
    parser.add_argument(
        "--keys-dir",
        default=DEFAULT_KEYS_DIR,
        help=f"where the JWKS files are copied (default {DEFAULT_KEYS_DIR})",
    )
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


# -- the file ---------------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string for everything a path or id holds.
    return json.dumps(value, ensure_ascii=False)


def render_config(
    args: argparse.Namespace,
    brokers: list[str],
    key_paths: dict[str, str],
    tls: dict[str, str],
    now: float,
) -> str:
    """The config text: only the keys given, each section with a line on what it is for."""
    lines = [
        f"# gatekiosk configuration, written by `gatekiosk provision` at {payloads.iso_time(now)}.",
        "# Every key not here keeps its default; see hardware/gatekiosk.toml.example for all.",
        "",
        "[device]",
        "# Ids go into the MQTT topics and every event: [a-z0-9-]{1,64}.",
        f"id = {_toml_string(args.device_id)}",
        f"community = {_toml_string(args.community)}",
        f"gate = {_toml_string(args.gate)}",
        "# in: entrance, measures temperature; out: exit, does not.",
        f"direction = {_toml_string(args.direction)}",
    ]
    if args.data_dir:
        lines += [
            "# Outbox, status list, command replay store, calibration points.",
            f"data_dir = {_toml_string(os.path.abspath(args.data_dir))}",
        ]
    lines += [
        "",
        "[keys]",
        "# Trusted public keys (JWKS): who issues passes, who may send commands.",
        f"issuers = {_toml_string(key_paths['issuers'])}",
        f"admins = {_toml_string(key_paths['admins'])}",
        "",
        "[mqtt]",
        "# Tried in order; TLS when [mqtt.tls] ca is set.",
        "brokers = [" + ", ".join(_toml_string(b) for b in brokers) + "]",
    ]
    if tls:
        lines += [
            "",
            "[mqtt.tls]",
            "# The broker's CA; this kiosk's certificate and key when the broker asks for one.",
        ]
        lines += [f"{name} = {_toml_string(path)}" for name, path in tls.items()]
    return "\n".join(lines) + "\n"


def _mismatches(
    cfg: Config,
    args: argparse.Namespace,
    brokers: list[str],
    key_paths: dict[str, str],
    tls: dict[str, str],
) -> list[str]:
    expected = {
        "device.id": (cfg.device.id, args.device_id),
        "device.community": (cfg.device.community, args.community),
        "device.gate": (cfg.device.gate, args.gate),
        "device.direction": (cfg.device.direction, args.direction),
        "keys.issuers": (cfg.keys.issuers, key_paths["issuers"]),
        "keys.admins": (cfg.keys.admins, key_paths["admins"]),
        "mqtt.brokers": (cfg.mqtt.brokers, brokers),
        "mqtt.tls.ca": (cfg.mqtt.tls.ca, tls.get("ca", "")),
        "mqtt.tls.cert": (cfg.mqtt.tls.cert, tls.get("cert", "")),
        "mqtt.tls.key": (cfg.mqtt.tls.key, tls.get("key", "")),
    }
    if args.data_dir:
        expected["device.data_dir"] = (cfg.device.data_dir, os.path.abspath(args.data_dir))
    return [name for name, (got, wanted) in expected.items() if got != wanted]


# -- writing ----------------------------------------------------------------------------------


def _refuse_existing(path: Path, data: bytes | None, force: bool) -> None:
    """Without --force an existing file is never replaced (the same content is no change)."""
    if force or not path.exists():
        return
    if data is not None:
        try:
            if path.read_bytes() == data:
                return
        except OSError:
            pass
    raise ProvisionError(f"{path} exists (use --force to replace it)", exit_code=1)


@dataclass
class Outcome:
    """What provision wrote."""

    config: str
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: str = ""


def provision(args: argparse.Namespace, now: float | None = None) -> Outcome:
    """Check everything, then write keys and config. Raises ProvisionError; writes nothing
    unless every check passed."""
    check_ids(args)
    brokers = check_brokers(args.broker)
    issuers = check_jwks("--issuers", args.issuers)
    admins = check_jwks("--admins", args.admins)
    tls = check_tls(args)

    config_path = Path(os.path.abspath(args.config))
    keys_dir = Path(os.path.abspath(args.keys_dir))
    targets = {
        "issuers": (issuers, keys_dir / ISSUERS_FILE),
        "admins": (admins, keys_dir / ADMINS_FILE),
    }
    key_paths = {name: str(target) for name, (_, target) in targets.items()}
    text = render_config(args, brokers, key_paths, tls, time.time() if now is None else now)
    try:
        parse(text, str(config_path))  # the same rules as load(), before anything is written
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None

    _refuse_existing(config_path, None, args.force)
    for keys, target in targets.values():
        _refuse_existing(target, keys.data, args.force)

    try:
        keys_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        config_path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        outcome = Outcome(str(config_path))
        for name, (keys, target) in targets.items():
            if not (target.exists() and target.samefile(keys.source)):
                commit_file(stage_file(target, keys.data, PUBLIC_KEY_MODE), target)
            os.chmod(target, PUBLIC_KEY_MODE)
            outcome.keys[name] = {
                "source": str(keys.source),
                "path": str(target),
                "kids": keys.kids,
            }
        staged = stage_file(config_path, text.encode("utf-8"), CONFIG_MODE)
        try:
            cfg = load(staged)
            wrong = _mismatches(cfg, args, brokers, key_paths, tls)
            if wrong:
                raise ProvisionError(f"written config reads back different: {', '.join(wrong)}")
        except (ConfigError, ProvisionError):
            staged.unlink(missing_ok=True)
            raise
        commit_file(staged, config_path)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise ProvisionError(f"cannot write{where}: {exc.strerror or exc}", exit_code=1) from None
    except ConfigError as exc:
        raise ProvisionError(str(exc), exit_code=1) from None
    d = cfg.device
    outcome.summary = (
        f"{d.id}, {d.community}/{d.gate} ({d.direction}), "
        f"{len(brokers)} broker{'s' if len(brokers) != 1 else ''}"
        + (", TLS" if tls else "")
    )
    return outcome


def next_steps(config_path: str) -> list[str]:
    """What the technician runs after provisioning."""
    return [
        f"sudo hardware/install.sh --config {config_path}",
        f"sudo -u {SERVICE_USER} {gatekiosk_command()} selftest --config {config_path}",
    ]


def main(args: argparse.Namespace) -> int:
    """Provision; 0 written, 1 refused or not writable, 2 bad input; one line on stderr."""
    try:
        outcome = provision(args)
    except ProvisionError as exc:
        sys.stderr.write(f"gatekiosk provision: {exc}\n")
        return exc.exit_code
    except Exception as exc:  # a bug still ends in one line, never a traceback
        sys.stderr.write(f"gatekiosk provision: internal error: {one_line(exc, ERROR_CHARS)}\n")
        return 1
    steps = next_steps(outcome.config)
    if args.json:
        document = {"config": outcome.config, "keys": outcome.keys, "next": steps}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")
        return 0
    out = sys.stdout
    out.write(f"wrote {outcome.config} (mode {CONFIG_MODE:04o}): {outcome.summary}\n")
    for name, info in outcome.keys.items():
        kids = info["kids"]
        out.write(
            f"{name}: {len(kids)} public key{'s' if len(kids) != 1 else ''} "
            f"({', '.join(kids)}) in {info['path']}\n"
        )
    out.write("next:\n")
    for step in steps:
        out.write(f"  {step}\n")
    return 0
