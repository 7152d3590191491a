"""`gatekiosk voice build --out DIR`: synthesise every prompt and the earcons (install time)."""

from __future__ import annotations

import argparse
import sys

from firmware.core import prompts


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="write the prompts' WAV files and the earcons")
    build.add_argument("--out", required=True, help="folder for the clips (created)")
    build.add_argument(
        "--languages",
        default=",".join(prompts.LANGUAGES),
        help="comma-separated, of zh,en,ko (default: all three)",
    )


def main(args: argparse.Namespace) -> int:
    from firmware.voice.build import VoiceBuildError, build

    languages = [lang for lang in args.languages.split(",") if lang]
    unknown = [lang for lang in languages if lang not in prompts.LANGUAGES]
    if unknown or not languages:
        sys.stderr.write(f"gatekiosk voice: --languages: unknown {','.join(unknown) or '(none)'}\n")
        return 2
    try:
        report = build(args.out, languages)
    except (VoiceBuildError, OSError) as exc:
        sys.stderr.write(f"gatekiosk voice: {' '.join(str(exc).split())}\n")
        return 1
    print(
        f"voice: {len(report.written)} clips written, {len(report.kept)} up to date in {args.out}"
    )
    return 0
