"""The storage check: the outbox opens with its integrity check; its depth and backlog."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

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


def check_stores(cfg: Config) -> Check:
    """The record of used command ids passes its integrity check, and no damaged store is
    kept aside in the data dir (README: what a technician does when a store is damaged)."""
    from firmware.assemble import COMMAND_IDS_FILE
    from firmware.store.damage import database_verdict, kept_aside

    data_dir = Path(cfg.device.data_dir)
    kept = [p.name for p in kept_aside(data_dir)]
    data: dict[str, Any] = {"kept_aside": kept}
    ids = data_dir / COMMAND_IDS_FILE
    verdict = database_verdict(ids) if ids.is_file() else None
    if verdict is not None:
        return Check("stores", FAIL, f"{ids}: {verdict}", data)
    if kept:
        return Check("stores", FAIL, f"damaged store kept aside: {', '.join(kept)}", data)
    return Check("stores", PASS, "command ids intact, nothing kept aside", data)
