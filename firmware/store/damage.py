"""A store that cannot be trusted: kept aside, never deleted, and a fresh one started.

The outbox (`outbox.db`) and the record of used command ids (`commands.db`) are SQLite files.
When one is corrupt, empty (zero bytes: its stream and numbering are gone) or numbered
inconsistently, the gate must neither die nor quietly start over in its place: the file (and
its `-wal`/`-shm` companions) is renamed with a `.damaged-YYYYmmddTHHMMSSZ` suffix so a
technician can recover what is in it, a fresh store is started, and the gate tells the server
directly (a `storage_fault` alarm over the link's `publish_now`, since the store it would be
recorded in is the one that failed). `gatekiosk selftest` FAILs while a kept-aside file is in
the data dir.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from firmware.errors import one_line

log = logging.getLogger(__name__)

DAMAGED_MARK = ".damaged-"
COMPANIONS = ("", "-wal", "-shm", "-journal")
# SQLite's own words for a file that is not (or no longer) a database.
DAMAGED_SQLITE_ERRORS = ("SQLITE_NOTADB", "SQLITE_CORRUPT")

T = TypeVar("T")


@dataclass(frozen=True)
class StoreDamage:
    """One store found damaged at start and replaced: what it was, where it is now, why."""

    store: str  # "outbox" or "command_ids"
    kept_as: str
    error: str

    def alarm_detail(self) -> dict[str, str]:
        return {"what": self.store, "kept_as": self.kept_as, "error": self.error[:200]}


def is_damage(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file itself is bad (not locked, not an I/O hiccup)."""
    return getattr(exc, "sqlite_errorname", "") in DAMAGED_SQLITE_ERRORS


def set_aside(path: Path, now: float | None = None) -> Path:
    """Rename `path` and its companions with a timestamp suffix; the new main path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}{DAMAGED_MARK}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{DAMAGED_MARK}{stamp}-{n}")
    for suffix in COMPANIONS:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{target}{suffix}"))
    return target


def open_or_replace(
    store: str,
    path: Path,
    opener: Callable[[], T],
    damaged: type[Exception],
    now: float | None = None,
) -> tuple[T, StoreDamage | None]:
    """Open a store with `opener`; when it raises `damaged`, keep the file aside and open a
    fresh one. Any other failure (permissions, a full disk) propagates: nothing is renamed."""
    try:
        return opener(), None
    except damaged as exc:
        kept = set_aside(path, now)
        log.error("%s %s damaged (%s); kept as %s, a fresh one started", store, path,
                  one_line(exc), kept.name)
        return opener(), StoreDamage(store, kept.name, one_line(exc))


def kept_aside(data_dir: Path) -> list[Path]:
    """Stores kept aside in `data_dir` (main files only), oldest name first."""
    if not data_dir.is_dir():
        return []
    return sorted(
        p for p in data_dir.iterdir()
        if DAMAGED_MARK in p.name and not p.name.endswith(COMPANIONS[1:])
    )


def database_verdict(path: Path) -> str | None:
    """Read-only check of a SQLite file: None when it opens and passes quick_check, else why.
    Never creates or changes the file."""
    if path.stat().st_size == 0:
        return "empty file (zero bytes)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return one_line(exc)
    return None if verdict == "ok" else " ".join(str(verdict).split())
