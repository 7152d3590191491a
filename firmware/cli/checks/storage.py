"""The storage check: the outbox opens with its integrity check; its depth and backlog."""

from __future__ import annotations

import contextlib
from pathlib import Path

from firmware.cli.checks import FAIL, PASS, WARN, Check
from firmware.cli.errors import ERROR_CHARS
from firmware.clock import Clock
from firmware.config import Config
from firmware.errors import one_line


def check_outbox(cfg: Config, clock: Clock) -> Check:
    """The outbox opens with its integrity check; its depth and what is not yet settled."""
    from firmware.assemble import open_outbox
    from firmware.store.outbox import OutboxError

    data_dir = Path(cfg.device.data_dir)
    db = data_dir / "outbox.db"
    if not db.exists():
        # Not created here: made by root, it would lock the service user out of its own file.
        return Check("outbox", WARN, f"no {db} yet (`gatekiosk run` creates it)", {"path": str(db)})
    try:
        outbox = open_outbox(cfg, data_dir, clock)
    except (OutboxError, OSError, ValueError) as exc:
        return Check("outbox", FAIL, one_line(exc, ERROR_CHARS), {"path": str(db)})
    try:
        depth, unsettled = outbox.depth(), outbox.unsettled()
        oldest, high_water = outbox.oldest_unsettled(), outbox.high_water()
        data = {
            "path": str(db),
            "stream": outbox.stream,
            "depth": depth,
            "unsettled": unsettled,
            "oldest_unsettled_seq": oldest,
            "last_seq": outbox.last_seq(),
            "high_water": high_water,
        }
    except (OutboxError, OSError) as exc:
        return Check("outbox", FAIL, one_line(exc, ERROR_CHARS), {"path": str(db)})
    finally:
        with contextlib.suppress(OutboxError):
            outbox.close()
    detail = f"integrity ok, {depth} rows, {unsettled} unsettled (stream {outbox.stream[:8]})"
    if high_water:
        return Check("outbox", WARN, f"{detail}: above the high-water mark", data)
    return Check("outbox", PASS, detail, data)
