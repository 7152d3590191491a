"""Admin command tokens (DESIGN 2.4, payloads "command"): who may open the door from afar.

A command carries a compact JWS (`typ` "gatecmd+jwt") signed by a trusted admin key. It is
obeyed only when it names this community and this gate, names the command of the topic it came
on, expires within a minute, and its `jti` was never seen before. The refusal reasons are the
stable codes of cmd-result.

The `jti` is recorded only once everything else has passed, so a forged or misaddressed token
cannot burn the `jti` of a real one. The store is durable (SQLite, synchronous=FULL): a command
captured off the wire cannot be replayed after a restart either.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from firmware.commands.numbers import is_number
from firmware.commands.table import COMMANDS
from firmware.core import reasons as pass_reasons
from firmware.credentials import KeySet, verify_jws
from firmware.store.damage import is_damage

logger = logging.getLogger(__name__)

COMMAND_TYP = "gatecmd+jwt"
# A command with a reason of 200 characters fits in well under half of this.
MAX_COMMAND_CHARS = 2048
MAX_SUBJECT_CHARS = 64
MAX_JTI_CHARS = 64
DEFAULT_MAX_AHEAD_S = 60
DEFAULT_SKEW_S = 5
# Seen jtis are kept this long past their expiry; an expired command is refused anyway.
JTI_RETENTION_S = 24 * 3600

# Refusal reasons (payloads.md, cmd-result.reason).
MALFORMED = "malformed"
UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
WRONG_ISSUER = "wrong_issuer"
WRONG_GATE = "wrong_gate"
UNKNOWN_COMMAND = "unknown_command"
EXPIRED = "expired"
EXP_TOO_FAR = "exp_too_far"
REPLAYED = "replayed"
# Decided by the MQTT layer, which alone sees the retain flag: a retained command is never obeyed.
RETAINED = "retained"
# The record of used ids cannot be read or written (or the gate is flooded): try again later.
BUSY = "busy"

# The signature layer's reasons, mapped to the command vocabulary.
_FROM_SIGNATURE_LAYER = {
    pass_reasons.UNRECOGNIZED_CODE: MALFORMED,
    pass_reasons.MALFORMED_PASS: MALFORMED,
    pass_reasons.UNSUPPORTED_ALGORITHM: UNSUPPORTED_ALGORITHM,
    pass_reasons.UNKNOWN_KEY: UNKNOWN_KEY,
    pass_reasons.BAD_SIGNATURE: BAD_SIGNATURE,
}


class JtiStoreError(RuntimeError):
    """The seen-jti store cannot be read or written; the command must be refused."""


class JtiStoreDamaged(JtiStoreError):
    """The store's file is corrupt or empty: kept aside and replaced at start."""


class JtiStore(Protocol):
    def seen(self, jti: str) -> bool:
        """True when a command with this jti was accepted before."""

    def add(self, jti: str, exp: float) -> None:
        """Record an accepted command's jti (durably, before the command is acted on)."""


class MemoryJtiStore:
    """Seen jtis in memory (tests and the simulator); forgets everything on restart."""

    def __init__(self) -> None:
        self._expiries: dict[str, float] = {}

    def seen(self, jti: str) -> bool:
        return jti in self._expiries

    def add(self, jti: str, exp: float) -> None:
        self._expiries[jti] = exp
        cutoff = exp - JTI_RETENTION_S
        for old in [j for j, e in self._expiries.items() if e < cutoff]:
            del self._expiries[old]

    def __len__(self) -> int:
        return len(self._expiries)


class SqliteJtiStore:
    """Seen jtis in SQLite (WAL, synchronous=FULL), surviving restarts and power loss.

    Pruning needs no clock: an accepted command's `exp` lies within a minute of the gate's now,
    so entries that expired more than `JTI_RETENTION_S` before the newest one are dropped.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._lock = threading.Lock()
        where = os.fspath(path)
        if os.path.exists(where) and os.path.getsize(where) == 0:
            # SQLite would take it for a new store: every id seen before forgotten, silently.
            raise JtiStoreDamaged(f"jti store {where} is empty (zero bytes)")
        try:
            self._db = sqlite3.connect(where, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JtiStoreError(f"cannot open jti store {where}: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise JtiStoreDamaged(f"jti store {where} is corrupt ({' '.join(verdict.split())})")
            with self._db:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS seen_jti (jti TEXT PRIMARY KEY, exp REAL NOT NULL)"
                )
        except sqlite3.Error as exc:
            self._db.close()
            error = JtiStoreDamaged if is_damage(exc) else JtiStoreError
            raise error(f"cannot open jti store {where}: {exc}") from None
        except JtiStoreDamaged:
            self._db.close()
            raise

    def seen(self, jti: str) -> bool:
        with self._lock:
            try:
                row = self._db.execute("SELECT 1 FROM seen_jti WHERE jti = ?", (jti,)).fetchone()
            except sqlite3.Error as exc:
                raise JtiStoreError(f"jti store read failed: {exc}") from None
        return row is not None

    def add(self, jti: str, exp: float) -> None:
        with self._lock:
            try:
                with self._db:
                    self._db.execute(
                        "INSERT OR REPLACE INTO seen_jti (jti, exp) VALUES (?, ?)", (jti, exp)
                    )
                    self._db.execute("DELETE FROM seen_jti WHERE exp < ?", (exp - JTI_RETENTION_S,))
            except sqlite3.Error as exc:
                raise JtiStoreError(f"jti store write failed: {exc}") from None

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM seen_jti").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteJtiStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class CommandVerification:
    """The verdict on a command. `claims` is set once the signature verified, even when the
    command is refused afterwards, so that cmd-result can name the refused `jti`."""

    ok: bool
    reason: str | None
    claims: dict[str, Any] | None = None
    # Set when the jti store failed (reason `busy`): what to tell the storage_fault alarm.
    store_error: str | None = None

    @property
    def jti(self) -> str | None:
        """The token's jti once its signature verified (so a refusal can be paired)."""
        jti = (self.claims or {}).get("jti")
        return jti if isinstance(jti, str) else None


def _is_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _claims_well_formed(claims: dict[str, Any]) -> bool:
    """Every claim payloads.md requires, with its type and bounds; args optional."""
    return (
        isinstance(claims.get("iss"), str)
        and _is_text(claims.get("sub"), MAX_SUBJECT_CHARS)
        # aud is a single gate id: a token aimed at a list of gates is not ours to accept.
        and isinstance(claims.get("aud"), str)
        and isinstance(claims.get("cmd"), str)
        and _is_text(claims.get("jti"), MAX_JTI_CHARS)
        and is_number(claims.get("iat"))
        and is_number(claims.get("exp"))
        and claims["iat"] <= claims["exp"]
        and _args_well_formed(claims.get("cmd"), claims.get("args", {}))
    )


def _args_well_formed(cmd: Any, args: Any) -> bool:
    """`args` is an object, and the command's own check (commands.table) accepts it."""
    if not isinstance(args, dict):
        return False
    command = COMMANDS.get(cmd) if isinstance(cmd, str) else None
    return command is None or command.args_ok(args)


def verify_command(
    token: str,
    keys: KeySet,
    *,
    community_id: str,
    gate_id: str,
    name: str,
    now: float,
    seen: JtiStore,
    max_ahead_s: int = DEFAULT_MAX_AHEAD_S,
    skew_s: int = DEFAULT_SKEW_S,
) -> CommandVerification:
    """Verify an admin command token received on topic `.../cmd/{name}` at `now`.

    Refusals are checked in this order: malformed, unsupported_algorithm, unknown_key,
    bad_signature, malformed (claims), wrong_issuer, wrong_gate, unknown_command, expired
    (exp <= now), exp_too_far (exp > now + max_ahead_s + skew_s: the issuer's clock may run
    `skew_s` ahead of ours), replayed. On success the `jti` is recorded in `seen` before
    returning. Never raises on any token; a failing store is `busy` with `store_error` set,
    and the claims of the token whose signature verified.
    """
    signed = verify_jws(token, keys, typ=COMMAND_TYP, max_chars=MAX_COMMAND_CHARS)
    if not signed.ok or signed.claims is None:
        return CommandVerification(False, _FROM_SIGNATURE_LAYER.get(signed.reason or "", MALFORMED))
    claims = signed.claims
    if not _claims_well_formed(claims):
        return CommandVerification(False, MALFORMED, claims)
    if claims["iss"] != community_id:
        return CommandVerification(False, WRONG_ISSUER, claims)
    if claims["aud"] != gate_id:
        return CommandVerification(False, WRONG_GATE, claims)
    if name not in COMMANDS or claims["cmd"] != name:
        return CommandVerification(False, UNKNOWN_COMMAND, claims)
    exp = float(claims["exp"])
    if exp <= now:
        return CommandVerification(False, EXPIRED, claims)
    if exp > now + max_ahead_s + skew_s:
        return CommandVerification(False, EXP_TOO_FAR, claims)
    jti = claims["jti"]
    try:
        if seen.seen(jti):
            logger.warning("command %s refused: jti already used", name)
            return CommandVerification(False, REPLAYED, claims)
        seen.add(jti, exp)
    except JtiStoreError as exc:
        return CommandVerification(False, BUSY, claims, store_error=str(exc))
    return CommandVerification(True, None, claims)
