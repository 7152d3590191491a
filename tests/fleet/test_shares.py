"""How the server stand-in splits a district over its consumers (`plan_shares`), no broker."""

from __future__ import annotations

from firmware import topics
from host_sim.fleet.gate import community_of
from host_sim.fleet.server import Share, plan_shares


def _district(gates: int, communities: int) -> list[tuple[str, str]]:
    return [(community_of(i, communities), f"gate-{i:05d}") for i in range(gates)]


def _owner_counts(shares: list[Share], district: list[tuple[str, str]]) -> list[int]:
    """For every gate, how many shares take its event topic."""
    counts = []
    for community, gate in district:
        event = topics.gate_topic("event", community, gate)
        wildcard = topics.community_filter("event", community)
        counts.append(sum(event in s.filters() or wildcard in s.filters() for s in shares))
    return counts


def test_many_communities_are_taken_whole_by_wildcard_each_by_one_consumer():
    district = _district(120, 12)
    shares = plan_shares(district, 3)
    assert [len(s.communities) for s in shares] == [4, 4, 4]
    assert all(not s.gates and not s.shared for s in shares)
    assert _owner_counts(shares, district) == [1] * 120
    # Two filters per community, not two per gate: what keeps NATS's consumers few.
    assert sum(len(s.filters()) for s in shares) == 12 * len(topics.OUTBOX_KINDS)
    assert all("+" in f for s in shares for f in s.filters())


def test_fewer_communities_than_consumers_splits_the_gates_by_exact_topics():
    district = _district(40, 1)
    shares = plan_shares(district, 3)
    assert all(not s.communities and s.gates for s in shares)
    assert _owner_counts(shares, district) == [1] * 40
    assert not any("+" in f for s in shares for f in s.filters())


def test_a_share_group_gives_every_consumer_every_community_under_share():
    district = _district(30, 3)
    shares = plan_shares(district, 2, shared=True)
    assert all(s.shared and len(s.communities) == 3 for s in shares)
    assert all(f.startswith("$share/") for s in shares for f in s.filters())


def test_one_community_keeps_the_fleets_original_name():
    assert community_of(7, 1) == "district-1"
    assert {community_of(i, 4) for i in range(8)} == {
        "district-1-001", "district-1-002", "district-1-003", "district-1-004"}
    assert all(topics.ID_PATTERN.fullmatch(community_of(i, 250)) for i in range(250))


def test_a_fleet_too_big_for_its_workers_gets_more_of_them_and_says_so(capsys):
    from host_sim.fleet.run import GATES_PER_WORKER_MAX, FleetConfig, FleetRun

    run = FleetRun(FleetConfig(gates=2 * GATES_PER_WORKER_MAX + 1, workers=1,
                               brokers=["127.0.0.1:1"]))
    try:
        assert run.config.workers == 3  # paho's select() limit, not the user's 1
    finally:
        run.close()
    assert "need 3 worker processes" in capsys.readouterr().err
    kept = FleetRun(FleetConfig(gates=10, workers=2, brokers=["127.0.0.1:1"]))
    kept.close()
    assert kept.config.workers == 2
