"""The gate's small state files damaged: the gate starts, says so in one line, and goes on."""

from __future__ import annotations

import logging

from firmware.gate.state_store import STATUS_LIST_FILE


def test_a_status_list_cache_that_is_a_directory_does_not_stop_the_start(
    make_rig, community, tmp_path, caplog
):
    (tmp_path / "gate" / "data" / STATUS_LIST_FILE).mkdir(parents=True)
    with caplog.at_level(logging.ERROR):
        rig = make_rig()
    assert any("status list cache" in r.getMessage() for r in caplog.records)
    assert rig.gate.status.status_list is None
    rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
    rig.gate.process_pending()
    assert rig.gate.status.status_list is not None  # held in memory, though not persisted
