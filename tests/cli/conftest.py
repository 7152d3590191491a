"""A kiosk site in tmp_path for the technician tools: keys, data dir, simulated devices."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from gpiozero import Device

from firmware.cli import main as cli_main
from firmware.voice.build import build
from host_sim.broker import free_port
from host_sim.rig import write_keys


class Site:
    """Keys and a data dir in `root`; `config()` writes a config using them.

    The screen gets a free port; the voice speaks English from `voice_dir` when given (the
    clips `gatekiosk voice build` writes), else from a folder with no clips.
    """

    def __init__(self, root: Path, voice_dir: Path | None = None) -> None:
        self.root = root
        self.keys = write_keys(root / "keys")
        self.data_dir = root / "data"
        self.data_dir.mkdir()
        self.voice_dir = voice_dir or root / "no-voice"
        self.screen_port = free_port()

    def config(
        self,
        *,
        brokers: list[str] | None = None,
        issuers: str | Path | None = None,
        admins: str | Path | None = None,
        data_dir: str | Path | None = None,
        extra: str = "",
        name: str = "gatekiosk.toml",
    ) -> Path:
        """A config with the simulated thermometer (fast) and camera (small frames)."""
        # A config names at least one broker; tools that never connect ignore it.
        brokers_toml = ", ".join(f'"{b}"' for b in (brokers or ["127.0.0.1:1883"]))
        text = f"""
[device]
id = "gate-0042"
community = "sunshine-garden"
gate = "north-1"
data_dir = "{data_dir or self.data_dir}"

[thermometer]
bus = "sim"
sample_hz = 50.0

[camera]
source = "sim"
width = 320
height = 240

[keys]
issuers = "{issuers or self.keys['issuers_path']}"
admins = "{admins or self.keys['admins_path']}"

[mqtt]
brokers = [{brokers_toml}]

[screen]
port = {self.screen_port}

[voice]
languages = ["en"]
audio_dir = "{self.voice_dir}"
{extra}
"""
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def voice_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The English clips and the earcons, synthesised once with espeak-ng."""
    out = tmp_path_factory.mktemp("voice")
    build(out, ["en"])
    return out


@pytest.fixture
def site(tmp_path: Path, voice_clips: Path) -> Site:
    return Site(tmp_path, voice_clips)


@pytest.fixture
def listening_broker():
    """Something accepting TCP connections, as a broker does: "127.0.0.1:PORT"."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
def dead_broker():
    """A port on which nothing listens."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def fresh_mock_pins():
    """Every test starts with unclaimed MockFactory pins and no recorded history."""
    yield
    factory = Device.pin_factory
    if factory is not None and hasattr(factory, "reset"):
        factory.reset()


@pytest.fixture
def gatekiosk(capsys):
    """Run `gatekiosk ARGS...`: (exit code, stdout, stderr). Usage errors exit 2 too."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = cli_main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
