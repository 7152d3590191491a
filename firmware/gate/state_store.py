"""What the gate keeps across restarts besides the outbox: the held status list, the used
single-use visitor passes, and the time floor.

The Pi has no RTC: after a power cut it restarts with the last time it saved until NTP answers.
While the clock is not synchronised, pass validity is judged against max(system time, floor),
where the floor is the newest time vouched for by signed material (the held status list's
`iat`) or by an earlier synchronised clock, so passes do not look older than they are.

A synchronised clock is the authority: it sets the floor, down as well as up, so a clock
stepped forward a year and then corrected does not leave the floor a year ahead. Signed
material only raises it, and a status list from further ahead than the skew is refused before
it can (status_intake).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from firmware import credentials
from firmware.clock import Clock
from firmware.core import policy
from firmware.store.files import write_atomically

log = logging.getLogger(__name__)

STATUS_LIST_FILE = "status-list.jwt"
GATE_STATE_FILE = "gate-state.json"


class StateStore:
    """The data dir's small files, and the time floor they feed."""

    def __init__(
        self, data_dir: Path, clock: Clock, issuer_keys: credentials.KeySet, skew_s: float = 300
    ) -> None:
        self.data_dir = Path(data_dir)
        self.skew_s = skew_s
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._issuer_keys = issuer_keys
        self.time_floor = 0.0
        self.state = policy.GateState()
        self.status = policy.StatusView(None)

    def now(self) -> float:
        """Wall time for pass validity, never below the floor while the clock is unsynced."""
        wall = self._clock.time()
        if self._clock.synced():
            self.time_floor = wall
            return wall
        return max(wall, self.time_floor)

    def vouch(self, epoch: float) -> None:
        """Signed material or a synchronised clock says it is at least `epoch`."""
        self.time_floor = max(self.time_floor, float(epoch))

    def load(self) -> None:
        """Read the gate state, then the held status list; a bad file is logged, not fatal."""
        self._load_gate_state()
        path = self.data_dir / STATUS_LIST_FILE
        if not path.exists():
            return
        try:
            token = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:  # a directory in its place, a bad sector: start without it
            log.error("status list cache %s unreadable (%s); waiting for a new one", path, exc)
            return
        result = credentials.verify_status_list_token(token, self._issuer_keys)
        held = result.status_list
        if not result.ok or held is None:
            log.warning("status list on disk refused (%s); waiting for a new one", result.reason)
        elif held.issued_in_future(self.now(), self.skew_s):
            # Kept before lists from the future were refused: it must not raise the floor.
            log.warning("status list on disk refused: iat %d in the future", held.iat)
        else:
            self.status = policy.StatusView(held, path.stat().st_mtime)
            self.vouch(held.iat)
            log.info("status list from disk: %s, iat %d", held.uri, held.iat)

    def _load_gate_state(self) -> None:
        path = self.data_dir / GATE_STATE_FILE
        if path.exists():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                jtis = {str(k): int(v) for k, v in dict(saved.get("used_visitor_jtis", {})).items()}
                self.state = policy.GateState(used_visitor_jtis=jtis)
                self.vouch(float(saved.get("time_floor", 0.0)))
            except (ValueError, TypeError, AttributeError, OSError) as exc:
                # Losing this only re-admits a single-use visitor pass; keep running, say so.
                log.error("gate state %s unreadable (%s); starting empty", path, exc)

    def save_state(self) -> None:
        """Persist the used visitor passes and the floor; OSError when it cannot be done."""
        data = {"used_visitor_jtis": self.state.used_visitor_jtis, "time_floor": self.time_floor}
        write_atomically(self.data_dir / GATE_STATE_FILE, json.dumps(data).encode())

    def keep_status_list(self, token: str) -> None:
        """Persist an accepted status list token; OSError when it cannot be done."""
        write_atomically(self.data_dir / STATUS_LIST_FILE, token.encode("ascii"))
