"""A signed status list dated further ahead than the clock skew (DESIGN 2.2)."""

from __future__ import annotations

from firmware.gate.state_store import STATUS_LIST_FILE

YEAR = 365 * 86400


def test_a_signed_status_list_from_the_far_future_is_refused_and_never_stored(rig, community):
    held = rig.gate.status.status_list
    future = community.status_list_token(iat=int(rig.clock.time()) + 10 * YEAR)
    rig.inbox.mqtt_message("status-list", None, future.encode(), True)
    rig.gate.process_pending()
    assert rig.gate.status.status_list is held
    stored = (rig.gate.store.data_dir / STATUS_LIST_FILE).read_text()
    assert stored != future
    assert rig.gate.store.time_floor < rig.clock.time() + YEAR
    # One mis-dated list must not lock out the genuine one after it.
    rig.clock.advance(60)
    genuine = community.status_list_token()
    rig.inbox.mqtt_message("status-list", None, genuine.encode(), True)
    rig.gate.process_pending()
    assert rig.gate.status.status_list.iat == int(rig.clock.time())


def test_a_future_list_is_judged_against_the_time_floor_too(make_rig, community, clock):
    rig = make_rig()
    # Unsynced clock a day behind; the floor (from an earlier synced clock) knows better.
    rig.gate.store.vouch(clock.time())
    clock.set_synced(False)
    clock.step_wall(-86400)
    ahead_of_wall = community.status_list_token(iat=int(clock.time()) + 86400 - 10)
    rig.inbox.mqtt_message("status-list", None, ahead_of_wall.encode(), True)
    rig.gate.process_pending()
    assert rig.gate.status.status_list is not None
