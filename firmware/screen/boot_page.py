"""The boot page's files: the screen's out-of-service state as static HTML, for `boot`.

Built by install.sh into /opt/gatekiosk/screen-boot/ from the same sources as the live page:
the out-of-service texts of `prompts` in the display order of `[screen]`, the no-entry symbol
cut from the live page's index.html, and the live page's style.css. Only the script differs:
boot.js polls the firmware's page and goes there once it answers.

    python -m firmware.screen.boot_page --out DIR --screen-url URL [--primary-language zh]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from importlib import resources
from pathlib import Path

from firmware.core import prompts
from firmware.screen.boot import screen_origin
from firmware.screen.settings import ScreenSettings

_SYMBOL = re.compile(r'<symbol id="sym-out_of_service".*?</symbol>', re.S)


def _asset(name: str) -> str:
    return resources.files("firmware.screen").joinpath("assets", name).read_text("utf-8")


def _lines(texts: dict[str, str], languages: list[str], kind: str) -> str:
    """One <p> per language, primary first, classed as the live page's script classes them."""
    return "\n".join(
        f'      <p lang="{lang}" class="{kind} {"primary" if i == 0 else "secondary"}">'
        f"{html.escape(texts[lang])}</p>"
        for i, lang in enumerate(languages)
        if texts.get(lang)
    )


def render(settings: ScreenSettings, screen_url: str) -> dict[str, bytes]:
    """The boot page's files by name (index.html, boot.js, style.css)."""
    screen_origin(screen_url)  # refuse anything but a loopback http URL
    languages = settings.languages()
    symbol = _SYMBOL.search(_asset("index.html"))
    if symbol is None:
        raise RuntimeError("index.html has no sym-out_of_service symbol")
    config = json.dumps({"screen_url": screen_url}).replace("<", "\\u003c")
    page = (
        _asset("boot.html")
        .replace("{{LANG}}", languages[0])
        .replace("{{CONFIG}}", config)
        .replace("{{SYMBOL}}", symbol.group(0))
        .replace(
            "{{PROMPT}}", _lines(prompts.for_step(prompts.OUT_OF_SERVICE), languages, "prompt-line")
        )
        .replace(
            "{{NEXT}}",
            _lines(prompts.next_for_step(prompts.OUT_OF_SERVICE), languages, "next-line"),
        )
    )
    return {
        "index.html": page.encode(),
        "boot.js": _asset("boot.js").encode(),
        "style.css": _asset("style.css").encode(),
    }


def write(out: Path, files: dict[str, bytes]) -> list[str]:
    """Write the files whose content differs (each by a rename); the names written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        path = out / name
        if path.is_file() and path.read_bytes() == content:
            continue
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(content)
        tmp.chmod(0o644)
        tmp.replace(path)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the screen's boot page.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--screen-url", required=True)
    parser.add_argument("--primary-language", default="zh", choices=prompts.LANGUAGES)
    args = parser.parse_args(argv)
    try:
        files = render(ScreenSettings(primary_language=args.primary_language), args.screen_url)
        written = write(args.out, files)
    except (OSError, ValueError) as exc:
        print(f"boot_page: {exc}", file=sys.stderr)
        return 1
    print(
        f"boot page in {args.out}: "
        + (", ".join(written) + " written" if written else "up to date")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
