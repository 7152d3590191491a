"""A status list from the broker (DESIGN 2.2): verified, compared with the one held, kept.

A list whose signature fails, that is not newer than the one held, or whose `iat` lies further
in the future than the clock skew (judged against the gate's best time, the time floor
included) is ignored and never stored. An accepted
list is persisted atomically so the gate uses it offline and after a restart.
"""

from __future__ import annotations

import logging

from firmware import credentials
from firmware.core import policy
from firmware.gate.state_store import StateStore

log = logging.getLogger(__name__)


def take_status_list(
    payload: bytes, store: StateStore, issuer_keys: credentials.KeySet, skew_s: float
) -> bool:
    """Hold the list in `payload` if it is genuine and newer; True when it was taken."""
    try:
        token = payload.decode("ascii").strip()
    except UnicodeDecodeError:
        log.warning("status list refused: not ASCII")
        return False
    result = credentials.verify_status_list_token(token, issuer_keys)
    if not result.ok or result.status_list is None:
        log.warning("status list refused: %s", result.reason)
        return False
    new = result.status_list
    best_now = store.now()
    if new.issued_in_future(best_now, skew_s):
        log.warning(
            "status list refused: iat %d is %.0f s ahead of the gate's time", new.iat,
            new.iat - best_now,
        )
        return False
    if not new.is_newer_than(store.status.status_list):
        log.info("status list iat %d not newer than the one held; ignored", new.iat)
        return False
    try:
        store.keep_status_list(token)
    except OSError as exc:
        log.error("status list not persisted: %s", exc)
    store.status = policy.StatusView(new, store.now())
    store.vouch(new.iat)
    log.info("status list %s iat %d accepted (%d entries)", new.uri, new.iat, len(new))
    return True
