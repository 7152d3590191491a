"""`gatekiosk update` on a fake root: install, switch, confirm, roll back, refuse.

Bundles are real (a tiny real wheel, a manifest signed with a real admin key). The venv step
and systemd are stand-ins: the installer writes a release whose `gatekiosk selftest` exits as
the test says, and `systemctl show` reports the service as the release `current` points at
would behave (ready, never ready, or restarted by its watchdog). Time is a ManualClock.
One test creates a real venv and pip-installs the wheel into it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from firmware import credentials
from firmware.cli import build_parser
from firmware.clock import ManualClock
from firmware.update import bundle, command
from firmware.update.install import Outcome, run_command, venv_installer
from firmware.update.layout import Layout, State, boot_check

REPO = Path(__file__).resolve().parents[2]


def dummy_wheel(directory: Path, version: str) -> Path:
    """A real, installable wheel named gatekiosk with a `gatekiosk` script (selftest: exit 0)."""
    dist = f"gatekiosk-{version}.dist-info"
    files = {
        "gkdummy.py": (
            "import sys\ndef main():\n    return 0 if sys.argv[1:2] == ['selftest'] else 3\n"
        ),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: gatekiosk\nVersion: {version}\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist}/entry_points.txt": "[console_scripts]\ngatekiosk = gkdummy:main\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    path = directory / f"gatekiosk-{version}-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


class Site:
    """A fake root with a running release 0.1.0, an admin key, systemd and a clock."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        self.layout = Layout(self.root)
        self.admin = credentials.generate_keypair("adm1")
        etc = self.root / "etc" / "gatekiosk"
        etc.mkdir(parents=True)
        (etc / "admins.jwks").write_text(json.dumps({"keys": [credentials.public_jwk(self.admin)]}))
        (etc / "gatekiosk.toml").write_text(
            '[device]\nid = "gate-1"\ncommunity = "c-1"\ngate = "g-1"\n'
            f'[keys]\nadmins = "{etc / "admins.jwks"}"\n'
        )
        # As hardware/install.sh leaves it: current -> .venv holding gatekiosk 0.1.0.
        base = self.layout.app_dir / ".venv"
        (base / "lib" / "python3.11" / "site-packages" / "gatekiosk-0.1.0.dist-info").mkdir(
            parents=True
        )
        (base / "bin").mkdir()
        self.layout.current.symlink_to(base)
        self.selftest_rc: dict[str, int] = {}
        self.service: dict[str, str] = {}  # version -> "ok" | "never-ready" | "crash"
        self.calls: list[list[str]] = []
        self.restarts = 0
        self.clock = ManualClock(start=1_790_000_000.0)

    def bundle(self, version: str, *, key=None, tamper=False, extra=None, name=None) -> Path:
        wheel = dummy_wheel(self.tmp / f"wheels-{version}", version)
        out = self.tmp / (name or f"gatekiosk-{version}.tar")
        bundle.write_bundle(out, version, [wheel], key or self.admin, self.clock.time())
        if tamper or extra:
            members = bundle.read_members(out)
            if tamper:
                members[wheel.name] = members[wheel.name] + b"\0"
            if extra:
                members[extra] = b"#!/bin/sh\n"
            with tarfile.open(out, "w") as tar:
                for n, data in members.items():
                    info = tarfile.TarInfo(n)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        return out

    def installer(self, target: Path, wheels: Path, version: str, runner) -> None:
        assert (wheels / f"gatekiosk-{version}-py3-none-any.whl").exists()
        (target / "bin").mkdir(parents=True)
        script = target / "bin" / "gatekiosk"
        script.write_text(f"#!/bin/sh\nexit {self.selftest_rc.get(version, 0)}\n")
        script.chmod(0o755)

    def running_version(self) -> str:
        return self.layout.current.resolve().name

    def runner(self, argv, timeout_s) -> Outcome:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] != "systemctl":
            return run_command(argv, timeout_s)
        if argv[1] != "show":
            return Outcome(0, "")
        behaviour = self.service.get(self.running_version(), "ok")
        if behaviour == "crash":
            self.restarts += 1
        active = "activating" if behaviour == "never-ready" else "active"
        return Outcome(0, f"ActiveState={active}\nNRestarts={self.restarts}")

    def update(self, *argv: str | Path) -> int:
        args = build_parser(["update"]).parse_args(
            ["update", *map(str, argv), "--root", str(self.root), "--ready-timeout", "60",
             "--healthy-for", "300"]
        )
        return command.main(args, self.runner, self.installer, self.clock)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, str]:
        """Every path under the fake root, with file contents and link targets."""
        seen = {}
        for path in sorted(self.root.rglob("*")):
            key = str(path.relative_to(self.root))
            if path.is_symlink():
                seen[key] = "-> " + str(path.readlink())
            elif path.is_file():
                seen[key] = path.read_bytes().hex()
            else:
                seen[key] = "dir"
        return seen

    def changing_calls(self) -> list[list[str]]:
        return [c for c in self.calls if c[:2] != ["systemctl", "show"]]


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def test_a_signed_newer_release_is_installed_beside_switched_and_confirmed(site, capsys):
    before = {k: v for k, v in site.snapshot().items() if k.startswith("opt/gatekiosk/.venv")}
    assert site.update(site.bundle("0.2.0")) == 0
    assert site.running_version() == "0.2.0"
    state = site.layout.load()
    assert state.current.version == "0.2.0" and state.previous.version == "0.1.0"
    assert state.pending is None  # confirmed after staying up
    assert ["systemctl", "stop", "gatekiosk.service"] in site.calls
    assert ["systemctl", "restart", "gatekiosk.service"] in site.calls
    # The release it came from is kept as it was, for a rollback.
    after = {k: v for k, v in site.snapshot().items() if k.startswith("opt/gatekiosk/.venv")}
    assert after == before
    assert "0.2.0 running and confirmed" in capsys.readouterr().out
    # Confirmation took the whole healthy period on the clock, no less.
    assert site.clock.monotonic() - 1000.0 >= 300


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [("never-ready", "did not report ready within 60 s"), ("crash", "was restarted by systemd")],
)
def test_a_release_that_does_not_come_up_healthy_is_rolled_back(site, capsys, behaviour, why):
    site.service["0.2.0"] = behaviour
    assert site.update(site.bundle("0.2.0")) == 1
    assert site.running_version() == ".venv"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and "rolled back to 0.1.0" in err
    state = site.layout.load()
    assert state.current.version == "0.1.0" and state.pending is None
    assert [c for c in site.changing_calls() if c[0] == "systemctl"][-1] == [
        "systemctl", "restart", "gatekiosk.service"
    ]


def test_a_release_that_fails_its_selftest_is_never_switched_to(site, capsys):
    site.selftest_rc["0.2.0"] = 1
    before = site.snapshot()
    assert site.update(site.bundle("0.2.0")) == 1
    assert "failed its selftest" in capsys.readouterr().err
    assert site.snapshot() == before  # new release removed, current untouched
    systemctl = [c[1] for c in site.changing_calls() if c[0] == "systemctl"]
    assert systemctl == ["stop", "start"]  # the old release is started again, never switched


def other_key():
    return credentials.generate_keypair("adm1")  # same kid, not the trusted key


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: s.bundle("0.2.0", tamper=True), "does not match its sha256"),
        (lambda s: s.bundle("0.2.0", key=other_key()), "manifest refused: bad_signature"),
        (lambda s: s.bundle("0.2.0", extra="evil.whl"), "evil.whl is not in the manifest"),
        (lambda s: s.bundle("0.1.0"), "0.1.0 is not newer than the running 0.1.0"),
        (lambda s: s.bundle("0.0.9"), "0.0.9 is not newer than the running 0.1.0"),
        (lambda s: unsigned(s), "unsigned bundle: no manifest.jwt"),
        (lambda s: s.tmp / "nothing.tar", "no such file"),
    ],
    ids=["tampered", "foreign-key", "extra-file", "equal", "older", "unsigned", "missing"],
)
def test_a_bad_bundle_is_refused_in_one_line_and_changes_nothing(site, capsys, make, message):
    path = make(site)
    before = site.snapshot()
    assert site.update(path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert site.snapshot() == before
    assert site.calls == []


def unsigned(s: Site) -> Path:
    wheel = dummy_wheel(s.tmp / "w", "0.2.0")
    out = s.tmp / "unsigned.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(wheel, arcname=wheel.name)
    return out


def test_a_refusal_from_the_command_line_is_one_line_without_traceback(site):
    bad = site.bundle("0.2.0", tamper=True)
    done = subprocess.run(
        [sys.executable, "-m", "firmware.cli", "update", str(bad), "--root", str(site.root)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_only_the_running_and_the_previous_release_are_kept(site):
    assert site.update(site.bundle("0.2.0")) == 0
    assert site.update(site.bundle("0.3.0")) == 0
    assert site.update(site.bundle("0.4.0")) == 0
    assert sorted(p.name for p in site.layout.releases.iterdir()) == ["0.3.0", "0.4.0"]
    assert site.layout.load().previous.version == "0.3.0"


def pending_on(site: Site) -> None:
    """0.2.0 switched to but never confirmed: the update was cut off (power, SSH)."""
    site.service["0.2.0"] = "never-ready"
    release = site.layout.release_dir("0.2.0")
    (release / "bin").mkdir(parents=True)
    previous = site.layout.load().current
    site.layout.point_current_at(release)
    site.layout.save(State(
        current=type(previous)("0.2.0", str(release)),
        previous=previous,
        pending={"version": "0.2.0", "since": 0, "boots": 0},
    ))


def test_boot_check_rolls_back_a_release_that_used_up_its_starts(site):
    pending_on(site)
    for start in (1, 2, 3):
        assert f"start {start} of 3" in boot_check(site.layout, 0.0)
        assert site.running_version() == "0.2.0"
    assert "rolled back to 0.1.0" in boot_check(site.layout, 0.0)
    assert site.running_version() == ".venv"
    assert boot_check(site.layout, 0.0) == "no release on probation"


def test_boot_check_runs_with_the_system_python_alone(site, tmp_path):
    # Installed as /opt/gatekiosk/boot-check.py and run by the system's python3 with nothing of
    # ours importable: a release too broken to import still gets rolled back.
    pending_on(site)
    script = tmp_path / "boot-check.py"
    script.write_text((REPO / "firmware" / "update" / "layout.py").read_text())
    for _ in range(4):
        done = subprocess.run(
            [sys.executable, "-I", str(script), "--root", str(site.root)],
            capture_output=True, text=True, timeout=30, cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    assert "rolled back to 0.1.0" in done.stdout
    assert site.running_version() == ".venv"


def test_the_real_venv_and_pip_step_installs_the_bundled_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    dummy_wheel(wheels, "0.2.0")
    target = tmp_path / "releases" / "0.2.0"
    venv_installer(target, wheels, "0.2.0", run_command)
    done = run_command([str(target / "bin" / "gatekiosk"), "selftest"], 30)
    assert done.code == 0, done.output
    assert (target / "pyvenv.cfg").read_text().count("include-system-site-packages = true") == 1
    assert (target / "bin" / "pip").exists()  # it can install the release after it


def test_release_tool_signs_a_bundle_the_gate_accepts(site, tmp_path):
    wheels = tmp_path / "dist-wheels"
    dummy_wheel(wheels, "0.5.0")
    key = tmp_path / "admin.jwks"
    key.write_text(json.dumps({"keys": [site.admin]}))
    out = tmp_path / "bundle.tar"
    done = subprocess.run(
        [sys.executable, "-m", "firmware.update.release", "--key", str(key),
         "--wheels", str(wheels), "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    keys = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(site.admin)]})
    manifest = bundle.verify(bundle.read_members(out), keys)
    assert manifest.version == "0.5.0"
    assert list(manifest.files) == ["gatekiosk-0.5.0-py3-none-any.whl"]


def test_a_version_rolled_back_once_can_be_installed_again_and_rolls_back_again(site, capsys):
    site.service["0.2.0"] = "crash"
    assert site.update(site.bundle("0.2.0")) == 1
    assert site.layout.load().previous.version == "0.2.0"  # the failed one, kept for a while
    assert site.update(site.bundle("0.2.0", name="again.tar")) == 1
    assert site.running_version() == ".venv"
    state = site.layout.load()
    assert state.current.version == "0.1.0"
    site.service["0.2.0"] = "ok"
    assert site.update(site.bundle("0.2.0", name="fixed.tar")) == 0
    assert site.layout.load().previous.version == "0.1.0"
    assert "rolled back" in capsys.readouterr().err


def test_a_rollback_to_a_release_that_is_gone_is_refused_and_leaves_current(site, capsys):
    assert site.update(site.bundle("0.2.0")) == 0
    (site.layout.app_dir / ".venv" / "bin").rmdir()
    assert site.update("--rollback") == 1
    assert "is gone" in capsys.readouterr().err
    assert site.running_version() == "0.2.0"


def test_a_failure_after_the_service_was_stopped_starts_the_old_release_again(
    site, monkeypatch, capsys
):
    before = site.snapshot()

    def no_symlinks(target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Layout, "point_current_at", lambda self, target: no_symlinks(target))
    assert site.update(site.bundle("0.2.0")) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert [c[1] for c in site.changing_calls() if c[0] == "systemctl"] == ["stop", "start"]
    assert site.snapshot() == before  # state file, link and releases as they were
    assert site.layout.load().current.version == "0.1.0"


def test_status_shows_the_releases_and_the_history_of_switches(site, capsys):
    site.service["0.3.0"] = "never-ready"
    assert site.update(site.bundle("0.2.0")) == 0
    assert site.update(site.bundle("0.3.0")) == 1
    capsys.readouterr()
    assert site.update("--status") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["current"]["version"] == "0.2.0" and status["pending"] is None
    history = status["history"]
    assert [h.split(" ", 1)[1] for h in history] == [
        "switched from 0.1.0 to 0.2.0",
        "confirmed 0.2.0",
        "switched from 0.2.0 to 0.3.0",
        "rolled back from 0.3.0 to 0.2.0: did not report ready within 60 s",
    ]
