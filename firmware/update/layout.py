"""Where releases live, which one runs, and the boot-time rollback. Standard library only.

    /opt/gatekiosk/releases/<version>/   one virtual environment per release
    /opt/gatekiosk/current               symlink to the running release (the unit's ExecStart)
    /opt/gatekiosk/update-state.json     current, previous, and the release still on probation

Switching is one rename of a new symlink over `current`, so the link is always either the old
release or the new one. A release installed by `gatekiosk update` is *pending* until it has
run healthily for a while; each start of the service counts one boot of it (`boot_check`, run
by the unit's `ExecStartPre` with the system's Python, so a release that cannot even import
still gets rolled back), and after `MAX_PENDING_BOOTS` starts it goes back to the previous one.

This file is also installed alone as /opt/gatekiosk/boot-check.py: it imports nothing of ours.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

APP_DIR = "opt/gatekiosk"
STATE_FILE = "update-state.json"
MAX_PENDING_BOOTS = 3
KEEP_RELEASES = 2


class UpdateError(Exception):
    """An update or rollback that cannot go on; the message is one line for the technician."""


@dataclass
class Release:
    version: str
    path: str  # absolute, inside the root


@dataclass
class State:
    current: Release | None = None
    previous: Release | None = None
    pending: dict[str, Any] | None = None  # {"version", "since", "boots"}
    history: list[str] = field(default_factory=list)  # one line per switch, newest last


class Layout:
    """The update paths under `root` ("/" on the Pi, a temporary directory in tests)."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)
        self.app_dir = self.root / APP_DIR
        self.releases = self.app_dir / "releases"
        self.current = self.app_dir / "current"
        self.state_file = self.app_dir / STATE_FILE

    def release_dir(self, version: str) -> Path:
        return self.releases / version

    def load(self) -> State:
        """The state file, or what the `current` link says when there is none yet."""
        if self.state_file.exists():
            try:
                raw = json.loads(self.state_file.read_text(encoding="utf-8"))
                return State(
                    current=_release(raw.get("current")),
                    previous=_release(raw.get("previous")),
                    pending=raw.get("pending"),
                    history=list(raw.get("history", [])),
                )
            except (ValueError, TypeError, AttributeError, OSError) as exc:
                raise UpdateError(f"{self.state_file}: unreadable ({exc})") from None
        if self.current.is_symlink() or self.current.exists():
            target = self.current.resolve()
            return State(current=Release(installed_version(target) or "0", str(target)))
        return State()

    def save(self, state: State) -> None:
        data = json.dumps(asdict(state), indent=1).encode()
        write_atomically(self.state_file, data)

    def restore(self, saved: bytes | None) -> None:
        """Put the state file back as it was read (None: there was none)."""
        if saved is None:
            self.state_file.unlink(missing_ok=True)
        else:
            write_atomically(self.state_file, saved)

    def point_current_at(self, target: Path) -> None:
        """Make `current` name `target` in one rename: never missing, never half-made."""
        tmp = self.current.with_name(f".current.{os.getpid()}")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, self.current)
        fsync_dir(self.current.parent)

    def rollback(self, state: State, why: str, now: float) -> State:
        """Back to the previous release; the failed one stays on disk until pruned."""
        if state.previous is None:
            raise UpdateError(f"cannot roll back ({why}): no previous release")
        if not (Path(state.previous.path) / "bin").is_dir():
            raise UpdateError(f"cannot roll back ({why}): {state.previous.path} is gone")
        failed = state.current
        self.point_current_at(Path(state.previous.path))
        state.current, state.previous = state.previous, failed
        state.pending = None
        state.history.append(
            f"{stamp(now)} rolled back from {failed.version if failed else '?'}"
            f" to {state.current.version}: {why}"
        )
        self.save(state)
        return state


def _release(raw: Any) -> Release | None:
    if raw is None:
        return None
    return Release(str(raw["version"]), str(raw["path"]))


def stamp(now: float) -> str:
    """UTC ISO 8601 to the second, for the history lines."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def installed_version(venv: Path) -> str | None:
    """The gatekiosk version installed in a virtual environment, from its dist-info."""
    for info in sorted(venv.glob("lib/python*/site-packages/gatekiosk-*.dist-info")):
        return info.name[len("gatekiosk-") : -len(".dist-info")]
    return None


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def boot_check(layout: Layout, now: float, max_boots: int = MAX_PENDING_BOOTS) -> str:
    """Count one start of a pending release; roll back once it has used up `max_boots`."""
    state = layout.load()
    if state.pending is None or state.current is None:
        return "no release on probation"
    if state.pending.get("version") != state.current.version:
        state.pending = None  # stale (switched by hand): nothing to judge
        layout.save(state)
        return "stale probation cleared"
    boots = int(state.pending.get("boots", 0)) + 1
    if boots > max_boots:
        layout.rollback(state, f"{boots - 1} starts without confirmation", now)
        return f"rolled back to {state.current.version}"
    state.pending["boots"] = boots
    layout.save(state)
    return f"release {state.current.version} on probation: start {boots} of {max_boots}"


def main(argv: list[str] | None = None) -> int:
    """ExecStartPre: never fails the start (the unit also ignores its exit status)."""
    parser = argparse.ArgumentParser(prog="boot-check", description=boot_check.__doc__)
    parser.add_argument("--root", default="/", help="file system root (tests)")
    parser.add_argument("--max-boots", type=int, default=MAX_PENDING_BOOTS)
    args = parser.parse_args(argv)
    try:
        print("gatekiosk boot-check:", boot_check(Layout(args.root), time.time(), args.max_boots))
    except (UpdateError, OSError, ValueError, KeyError) as exc:
        print(f"gatekiosk boot-check: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
