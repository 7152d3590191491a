"""Files that must survive a power cut whole: written beside their place, synced, renamed.

A reader (or the gate after a power cut) finds the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path


def stage_file(path: Path, data: bytes, mode: int) -> Path:
    """Write `data` with `mode` (whatever the umask) to a temporary file beside `path`, synced."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def commit_file(tmp: Path, path: Path) -> None:
    """Move a staged file over `path` in one step and make the rename durable."""
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a power cut leaves the old or the new file, whole."""
    commit_file(stage_file(path, data, mode), path)
