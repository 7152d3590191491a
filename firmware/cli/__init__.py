"""`gatekiosk` command line: one entry point, one module per subcommand, imported only when used.

Each subcommand module provides `configure(parser)` (adds its arguments) and `main(args) -> int`.
Usage errors exit 2 with one line on stderr; nothing prints a traceback at a technician.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from firmware import __version__

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("firmware.cli.run", "run the kiosk (on the Pi, under systemd)"),
    "decide": ("firmware.cli.decide", "one decision, dry-run, printed as the event JSON"),
    "decode": ("firmware.cli.decode", "decode QR codes in image files"),
    "pass": ("firmware.cli.passes", "keys, passes and status lists for the community side"),
    "selftest": ("firmware.cli.selftest", "check every device and the storage on this kiosk"),
    "calibrate": ("firmware.cli.calibrate", "fit the thermometer's body-temperature model"),
    "provision": ("firmware.cli.provision", "write this kiosk's identity, keys and config"),
    "voice": ("firmware.voice.cmd", "synthesise the spoken prompts into WAV files (install time)"),
    "update": ("firmware.update.command", "install a signed release; roll back if it fails"),
    "events": ("firmware.cli.events", "read, filter and export this kiosk's own records"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line naming the problem, exit 2 (argparse prints the whole usage block otherwise).
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = _Parser(prog="gatekiosk", description="Unattended community gate kiosk firmware.")
    parser.add_argument("--version", action="version", version=f"gatekiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module_name, _command=name)
        # Only the chosen subcommand's module is imported (others may need hardware libraries).
        if name in argv:
            importlib.import_module(module_name).configure(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        return 130
