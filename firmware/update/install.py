"""Install a verified release beside the running one, switch, watch, and roll back by itself.

    verify bundle ─> venv in releases/<version>/ ─> stop service ─> selftest (new release)
        ─ fails ─> start the old release again, remove the new one (nothing switched)
        ─ passes ─> switch `current` ─> start ─> ready within `ready_timeout_s`?
              ─ no, or restarted / failed during `healthy_s` ─> roll back, start the old one
              ─ yes, and stayed up ─> confirmed; older releases pruned (two are kept)

Every command that touches the system (systemctl, the selftest, pip) goes through a `Runner`;
creating the environment goes through an `Installer`; time through a `Clock`. Tests swap all
three and give a root directory, so nothing here needs a real Pi.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.version import Version

from firmware import credentials
from firmware.clock import Clock
from firmware.update import bundle
from firmware.update.layout import KEEP_RELEASES, Layout, Release, State, UpdateError, stamp

log = logging.getLogger(__name__)

SERVICE = "gatekiosk.service"


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str


Runner = Callable[[Sequence[str], float], Outcome]


def run_command(argv: Sequence[str], timeout_s: float) -> Outcome:
    """The real runner: a subprocess, its output merged, never an exception."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(127, str(exc))
    return Outcome(done.returncode, (done.stdout + done.stderr).strip())


class Installer(Protocol):
    def __call__(self, target: Path, wheels: Path, version: str, runner: Runner) -> None: ...


def venv_installer(target: Path, wheels: Path, version: str, runner: Runner) -> None:
    """A venv (seeing the system's picamera2 and lgpio) with gatekiosk==version from `wheels`
    only (`--no-index`): the bundle is the whole of what gets installed, no network needed.
    The venv gets its own pip, so the release can install the next one."""
    made = runner([sys.executable, "-m", "venv", "--system-site-packages", str(target)], 600)
    if made.code != 0:
        raise UpdateError(f"venv creation failed: {last_line(made)}")
    done = runner(
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "--no-index", "--find-links", str(wheels),
         f"gatekiosk=={version}"],
        1800,
    )
    if done.code != 0:
        raise UpdateError(f"pip install failed: {last_line(done)}")


def last_line(outcome: Outcome) -> str:
    lines = outcome.output.splitlines()
    return lines[-1] if lines else f"exit {outcome.code}"


def discard(release: Path) -> None:
    """Remove a release that never ran (and `releases/` if it was the first)."""
    shutil.rmtree(release, ignore_errors=True)
    with contextlib.suppress(OSError):
        release.parent.rmdir()  # only when empty


@dataclass
class Settings:
    config: Path
    ready_timeout_s: float = 120.0
    healthy_s: float = 300.0
    poll_s: float = 2.0
    selftest_timeout_s: float = 120.0


class Updater:
    """One update on one root; see the module docstring for the steps."""

    def __init__(
        self,
        layout: Layout,
        settings: Settings,
        *,
        runner: Runner = run_command,
        installer: Installer = venv_installer,
        clock: Clock,
        say: Callable[[str], None] = print,
    ) -> None:
        self.layout = layout
        self.settings = settings
        self.runner = runner
        self.installer = installer
        self.clock = clock
        self.say = say

    # -- checks that change nothing ---------------------------------------------------------

    def check(self, path: Path, admin_keys: credentials.KeySet) -> tuple[bundle.Manifest, State,
                                                                         dict[str, bytes]]:
        members = bundle.read_members(path)
        manifest = bundle.verify(members, admin_keys)
        state = self.layout.load()
        if state.current is not None:
            running = Version(state.current.version)
            if manifest.parsed_version <= running:
                raise UpdateError(
                    f"bundle refused: {manifest.version} is not newer than the running "
                    f"{state.current.version}"
                )
        return manifest, state, members

    # -- the update -------------------------------------------------------------------------

    def update(self, path: Path, admin_keys: credentials.KeySet) -> str:
        manifest, state, members = self.check(path, admin_keys)
        target = self.layout.release_dir(manifest.version)
        self.say(f"installing {manifest.version} into {target}")
        if target.exists():
            # A half-made earlier attempt, or this version rolled back before: never the
            # running release (its version is lower). Forget it as a rollback target first.
            if state.previous is not None and Path(state.previous.path) == target:
                state.previous = None
                self.layout.save(state)
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="gatekiosk-wheels-") as tmp:
            wheels = Path(tmp)
            for name in manifest.files:
                (wheels / name).write_bytes(members[name])
            try:
                self.installer(target, wheels, manifest.version, self.runner)
            except UpdateError:
                discard(target)
                raise
        old = state.current
        saved = self.layout.state_file.read_bytes() if self.layout.state_file.exists() else None
        self.systemctl("stop")
        try:
            self.selftest(target, manifest.version, old)
            self.switch(target, manifest.version, state)
        except BaseException:
            # Whatever went wrong before the switch, the old release runs again, unchanged.
            if self.layout.current.resolve() != target.resolve():
                self.layout.restore(saved)
                self.systemctl("start")
                discard(target)
            raise
        self.systemctl("restart")
        verdict = self.watch()
        if verdict is not None:
            self.layout.rollback(self.layout.load(), verdict, self.clock.time())
            self.systemctl("restart")
            back = old.version if old else "?"
            raise UpdateError(f"{manifest.version} {verdict}; rolled back to {back}")
        self.confirm()
        return f"{manifest.version} running and confirmed"

    def selftest(self, target: Path, version: str, running: Release | None) -> None:
        """The new release's own `gatekiosk selftest` against the kiosk's config."""
        test = self.runner(
            [str(target / "bin" / "gatekiosk"), "selftest", "--config", str(self.settings.config)],
            self.settings.selftest_timeout_s,
        )
        if test.code != 0:
            worst = [ln for ln in test.output.splitlines() if ln.startswith("FAIL")][:1]
            raise UpdateError(
                f"{version} failed its selftest ({'; '.join(worst) or test.code}); "
                f"still running {running.version if running else 'the old release'}"
            )

    def switch(self, target: Path, version: str, state: State) -> None:
        """State first (new release on probation), then the link. If the link cannot be made,
        `update` restores the state; after a power cut between the two the old release runs
        and the boot check rolls the state back to it."""
        now = self.clock.time()
        old = state.current
        state.previous, state.current = old, Release(version, str(target))
        state.pending = {"version": version, "since": now, "boots": 0}
        came_from = old.version if old else "-"
        state.history.append(f"{stamp(now)} switched from {came_from} to {version}")
        self.layout.save(state)
        self.layout.point_current_at(target)

    def confirm(self) -> State:
        """The pending release has proven itself: no more boot counting; prune old ones."""
        state = self.layout.load()
        if state.pending is not None:
            state.history.append(f"{stamp(self.clock.time())} confirmed {state.pending['version']}")
            state.pending = None
            self.layout.save(state)
        self.prune(state)
        return state

    def prune(self, state: State) -> None:
        keep = {Path(r.path).resolve() for r in (state.current, state.previous) if r is not None}
        if not self.layout.releases.is_dir():
            return
        # The running release and the one to roll back to: KEEP_RELEASES of them.
        assert len(keep) <= KEEP_RELEASES
        for path in sorted(self.layout.releases.iterdir()):
            if path.resolve() not in keep:
                shutil.rmtree(path, ignore_errors=True)
                self.say(f"removed old release {path.name}")

    # -- the service ------------------------------------------------------------------------

    def systemctl(self, verb: str) -> None:
        done = self.runner(["systemctl", verb, SERVICE], 120)
        if done.code != 0:
            self.say(f"warning: systemctl {verb} {SERVICE}: {done.output or done.code}")

    def service_state(self) -> tuple[str, int]:
        done = self.runner(["systemctl", "show", "-p", "ActiveState,NRestarts", SERVICE], 30)
        props = dict(
            line.split("=", 1) for line in done.output.splitlines() if "=" in line
        )
        try:
            restarts = int(props.get("NRestarts", "0"))
        except ValueError:
            restarts = 0
        return props.get("ActiveState", "unknown"), restarts

    def watch(self) -> str | None:
        """None if the service became ready in time and stayed up; else what went wrong."""
        s = self.settings
        start = self.clock.monotonic()
        _, baseline = self.service_state()
        ready_at: float | None = None
        while True:
            now = self.clock.monotonic()
            active, restarts = self.service_state()
            if restarts > baseline or active == "failed":
                return f"was restarted by systemd ({active}, {restarts - baseline} restarts)"
            if ready_at is None:
                if active == "active":
                    ready_at = now
                    self.say(f"ready after {now - start:.0f} s; watching for {s.healthy_s:.0f} s")
                elif now - start >= s.ready_timeout_s:
                    return f"did not report ready within {s.ready_timeout_s:.0f} s"
            elif active != "active":
                return f"stopped being active ({active})"
            elif now - ready_at >= s.healthy_s:
                return None
            self.clock.sleep(s.poll_s)
