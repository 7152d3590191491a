"""The outbox on its own: numbering, durability, settlement, pruning, high water, faults."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid

import pytest

from firmware.clock import ManualClock
from firmware.store.outbox import Outbox, OutboxError

DAY = 86400.0


def test_event_and_alarm_share_one_contiguous_numbering_that_survives_reopening(
        tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        stream = outbox.stream
        first = kit.append_records(outbox, 7, clock, alarm_every=3)
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        assert outbox.stream == stream
        second = kit.append_records(outbox, 3, clock, alarm_every=2)
        kinds = [row.kind for row in outbox.pending(100)]
    assert first + second == list(range(1, 11))
    assert kinds.count("alarm") == 3 and kinds.count("event") == 7


def test_stream_is_32_lowercase_hex_and_a_new_database_gets_a_new_one(tmp_path):
    clock = ManualClock()
    with Outbox(tmp_path / "a.db", clock=clock) as a, Outbox(tmp_path / "b.db", clock=clock) as b:
        assert re.fullmatch(r"[0-9a-f]{32}", a.stream)
        assert a.stream != b.stream


def test_append_completes_the_payload_and_leaves_the_callers_dict_alone(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        body = kit.exit_event(clock)
        record = outbox.append("event", body)
        assert "seq" not in body and "event_id" not in body
        assert record["seq"] == 1 and record["stream"] == outbox.stream
        assert str(uuid.UUID(record["event_id"])) == record["event_id"]
        assert json.loads(outbox.pending(1)[0].payload) == record


def test_a_committed_record_is_visible_to_another_connection_when_append_returns(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        record = outbox.append("event", kit.exit_event(clock))
        other = sqlite3.connect(tmp_path / "o.db")
        try:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            stored = other.execute("SELECT payload FROM outbox WHERE seq = 1").fetchone()[0]
        finally:
            other.close()
    assert json.loads(stored)["event_id"] == record["event_id"]


def test_a_given_event_id_is_kept_and_a_bad_or_reused_one_is_refused(tmp_path, kit):
    clock = ManualClock()
    given = str(uuid.uuid4())
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kept = outbox.append("event", {**kit.exit_event(clock), "event_id": given})
        assert kept["event_id"] == given
        with pytest.raises(ValueError, match="already in the outbox"):
            outbox.append("event", {**kit.exit_event(clock), "event_id": given})
        with pytest.raises(ValueError, match="canonical lowercase UUID"):
            outbox.append("event", {**kit.exit_event(clock), "event_id": given.upper()})
        with pytest.raises(ValueError, match="outbox kind"):
            outbox.append("telemetry", kit.exit_event(clock))
        with pytest.raises(ValueError, match="not JSON"):
            outbox.append("event", {**kit.exit_event(clock), "note": float("nan")})
        # Nothing refused took a number: the next record is seq 2.
        assert outbox.append("event", kit.exit_event(clock))["seq"] == 2


def test_pending_is_oldest_unsettled_first_from_after_seq(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kit.append_records(outbox, 10, clock)
        outbox.note_sent(10)
        outbox.settle_through(outbox.stream, 3)
        assert [r.seq for r in outbox.pending(4)] == [4, 5, 6, 7]
        assert [r.seq for r in outbox.pending(100, after_seq=8)] == [9, 10]
        assert outbox.oldest_unsettled() == 4


def test_ack_settles_through_n_of_its_own_stream_only(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kit.append_records(outbox, 6, clock)
        outbox.mark_published_many([1, 2, 3, 4, 5, 6])
        assert outbox.unsettled() == 6  # ack mode: a PUBACK does not settle
        assert outbox.settle_through("f" * 32, 6).settled == 0
        assert outbox.settle_through(outbox.stream, 4).settled == 4
        assert outbox.settle_through(outbox.stream, 4).settled == 0
        assert outbox.unsettled() == 2 and outbox.depth() == 6


def test_an_ack_past_what_was_sent_settles_only_what_was_sent(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kit.append_records(outbox, 8, clock)
        outbox.note_sent(3)  # the sender handed seq 1-3 to the broker, nothing more
        forged = outbox.settle_through(outbox.stream, 10**9)
        assert (forged.settled, forged.refused_beyond) == (3, 3)
        assert [r.seq for r in outbox.pending(100)] == [4, 5, 6, 7, 8]
        clock.advance(30 * DAY)
        assert outbox.prune() == 3  # only what was really sent and acknowledged goes
        assert outbox.unsettled() == 5 and outbox.depth() == 5


def test_an_ack_past_64_bits_is_bounded_before_sqlite(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kit.append_records(outbox, 2, clock)
        outbox.note_sent(2)
        settlement = outbox.settle_through(outbox.stream, 2**63)
        assert (settlement.settled, settlement.refused_beyond) == (2, 2)


def test_what_was_sent_before_a_restart_is_remembered_from_the_rows(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:
        kit.append_records(outbox, 6, clock)
        outbox.mark_published_many([1, 2, 3, 4])  # PUBACKed before the power cut
    with Outbox(tmp_path / "o.db", clock=clock) as again:
        assert again.settle_through(again.stream, 6).refused_beyond == 4
        assert again.unsettled() == 2


def test_puback_mode_settles_on_publish(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock, settle_on="puback") as outbox:
        kit.append_records(outbox, 3, clock)
        outbox.mark_published(2)
        assert [r.seq for r in outbox.pending(10)] == [1, 3]


def test_prune_drops_settled_rows_past_retention_but_never_an_unsettled_one(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock, retention_s=7 * DAY) as outbox:
        kit.append_records(outbox, 10, clock)  # day 0
        clock.advance(3 * DAY)
        kit.append_records(outbox, 5, clock)  # day 3: seq 11-15
        outbox.note_sent(15)
        outbox.settle_through(outbox.stream, 12)
        outbox.mark_published_many(range(13, 16))
        clock.advance(5 * DAY)  # day 8: seq 1-10 are past retention
        assert outbox.prune() == 10
        assert [r.seq for r in outbox.pending(100)] == [13, 14, 15]
        clock.advance(30 * DAY)
        assert outbox.prune() == 2  # 11 and 12; 13-15 stay although they are old
        assert outbox.depth() == 3 and outbox.unsettled() == 3


def test_prune_over_max_rows_removes_oldest_settled_and_keeps_every_unsettled(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock, max_rows=5) as outbox:
        kit.append_records(outbox, 12, clock)
        outbox.note_sent(12)
        outbox.settle_through(outbox.stream, 4)
        assert outbox.prune() == 4  # 12 held, 5 allowed, but only 4 are settled
        assert [r.seq for r in outbox.pending(100)] == list(range(5, 13))
        outbox.settle_through(outbox.stream, 9)
        assert outbox.prune() == 3  # now 8 held: the three oldest settled go
        assert outbox.depth() == 5
        assert [r.seq for r in outbox.pending(100)] == [10, 11, 12]


def test_high_water_fires_on_unsettled_rows_and_on_low_disk(tmp_path, kit):
    clock = ManualClock()
    with Outbox(tmp_path / "o.db", clock=clock, max_rows=10, high_water=0.5) as outbox:
        kit.append_records(outbox, 5, clock)
        assert not outbox.high_water()
        kit.append_records(outbox, 1, clock)
        assert outbox.high_water()
        outbox.note_sent(6)
        outbox.settle_through(outbox.stream, 6)
        assert not outbox.high_water()
    floor = 1 << 62  # more than any disk has free
    with Outbox(tmp_path / "p.db", clock=clock, min_free_bytes=floor) as outbox:
        assert outbox.high_water()


def test_a_corrupt_database_is_refused_in_one_line_and_left_untouched(tmp_path):
    path = tmp_path / "o.db"
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(OutboxError) as refused:
        Outbox(path, clock=ManualClock())
    assert "\n" not in str(refused.value) and "left untouched" in str(refused.value)
    assert path.read_bytes() == garbage


def test_a_damaged_page_is_found_by_the_check_at_open(tmp_path, kit):
    clock = ManualClock()
    path = tmp_path / "o.db"
    with Outbox(path, clock=clock) as outbox:
        kit.append_records(outbox, 300, clock)
    raw = bytearray(path.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    raw[3 * page:4 * page] = b"\xa5" * page  # scribble over a b-tree page
    path.write_bytes(bytes(raw))
    with pytest.raises(OutboxError, match=r"corrupt|unreadable"):
        Outbox(path, clock=clock)


def test_a_damaged_numbering_is_refused_rather_than_restarted(tmp_path, kit):
    clock = ManualClock()
    path = tmp_path / "o.db"
    with Outbox(path, clock=clock) as outbox:
        kit.append_records(outbox, 3, clock)
    other = sqlite3.connect(path)
    with other:
        other.execute("DELETE FROM meta WHERE key = 'next_seq'")
    other.close()
    with pytest.raises(OutboxError, match="meta table is damaged"):
        Outbox(path, clock=clock)
    other = sqlite3.connect(path)
    with other:
        other.execute("DELETE FROM meta")
    other.close()
    with pytest.raises(OutboxError, match="meta table is damaged"):
        Outbox(path, clock=clock)


def test_storage_failure_is_an_outbox_error_and_takes_no_number(tmp_path, kit):
    clock = ManualClock()
    outbox = Outbox(tmp_path / "o.db", clock=clock)
    kit.append_records(outbox, 1, clock)
    # Simulate a full disk: SQLite may not grow the file any further.
    pages = outbox._conn.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[union-attr]
    outbox._conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]
    with pytest.raises(OutboxError, match="full"):
        for _ in range(200):
            outbox.append("event", {**kit.exit_event(clock), "note": "x" * 200})
    outbox.close()
    with pytest.raises(OutboxError, match="closed"):
        outbox.append("event", kit.exit_event(clock))
    with Outbox(tmp_path / "o.db", clock=clock) as reopened:
        seqs = [r.seq for r in reopened.pending(1000)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert reopened.append("event", kit.exit_event(clock))["seq"] == len(seqs) + 1


def test_appends_from_many_threads_get_unique_contiguous_seqs(tmp_path, kit):
    clock = ManualClock()
    got: list[int] = []
    lock = threading.Lock()
    with Outbox(tmp_path / "o.db", clock=clock) as outbox:

        def writer() -> None:
            for _ in range(25):
                seq = outbox.append("event", kit.exit_event(clock))["seq"]
                with lock:
                    got.append(seq)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(got) == list(range(1, 101))
