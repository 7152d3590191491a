"""`gatekiosk update BUNDLE`: install a signed release, switch, and roll back by itself.

    gatekiosk update BUNDLE [--config FILE] [--check] [--ready-timeout S] [--healthy-for S]
    gatekiosk update --status | --rollback | --confirm

Exit 0 done (or, with --check, the bundle is acceptable), 1 refused or rolled back (one line
says why; the running release is untouched or back), 2 bad usage. Run as root: it writes
/opt/gatekiosk and restarts the service.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from firmware import credentials
from firmware.clock import SystemClock
from firmware.config import ConfigError, load
from firmware.update.install import (
    Installer,
    Runner,
    Settings,
    Updater,
    run_command,
    venv_installer,
)
from firmware.update.layout import Layout, UpdateError

DEFAULT_CONFIG = "/etc/gatekiosk/gatekiosk.toml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", nargs="?", help="release bundle (.tar from `make release`)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="kiosk config (its admin keys)")
    parser.add_argument("--root", default="/", help="file system root (tests, image builds)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="verify the bundle, change nothing")
    what.add_argument("--status", action="store_true", help="print the releases and history")
    what.add_argument("--rollback", action="store_true", help="go back to the previous release")
    what.add_argument("--confirm", action="store_true", help="end the probation of the release")
    parser.add_argument("--ready-timeout", type=float, default=120.0, metavar="S",
                        help="seconds the new release has to report ready (default 120)")
    parser.add_argument("--healthy-for", type=float, default=300.0, metavar="S",
                        help="seconds it must then stay up before it is confirmed (default 300)")


def admin_keys(config: Path) -> credentials.KeySet:
    """The admin JWKS the gate already trusts, named by its config file."""
    try:
        cfg = load(config)
        return credentials.KeySet.load(cfg.keys.admins)
    except (ConfigError, credentials.KeySetError, OSError) as exc:
        raise UpdateError(f"no trusted admin keys: {exc}") from None


def main(
    args: argparse.Namespace,
    runner: Runner = run_command,
    installer: Installer = venv_installer,
    clock: SystemClock | None = None,
) -> int:
    layout = Layout(args.root)
    config = Path(args.config)
    if args.root != "/" and args.config == DEFAULT_CONFIG:
        config = Path(args.root) / DEFAULT_CONFIG.lstrip("/")
    settings = Settings(config, ready_timeout_s=args.ready_timeout, healthy_s=args.healthy_for)
    updater = Updater(layout, settings, runner=runner, installer=installer,
                      clock=clock or SystemClock())
    try:
        if args.status:
            print(json.dumps(asdict(layout.load()), indent=1))
            return 0
        if args.rollback:
            state = layout.rollback(layout.load(), "by hand", updater.clock.time())
            updater.systemctl("restart")
            back = state.current.version if state.current else "?"
            print(f"gatekiosk update: rolled back to {back}")
            return 0
        if args.confirm:
            updater.confirm()
            print("gatekiosk update: release confirmed")
            return 0
        if not args.bundle:
            sys.stderr.write("gatekiosk update: error: give a BUNDLE (or --status/--rollback)\n")
            return 2
        bundle_path = Path(args.bundle)
        if not bundle_path.exists():
            raise UpdateError(f"{bundle_path}: no such file")
        keys = admin_keys(config)
        if args.check:
            manifest, _, _ = updater.check(bundle_path, keys)
            print(f"gatekiosk update: {bundle_path.name}: {manifest.version}, signature and "
                  f"{len(manifest.files)} files good")
            return 0
        print(f"gatekiosk update: {updater.update(bundle_path, keys)}")
        return 0
    except UpdateError as exc:
        sys.stderr.write(f"gatekiosk update: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"gatekiosk update: {exc}\n")
        return 1
