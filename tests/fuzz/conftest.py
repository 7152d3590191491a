"""Fuzz profile: `GATEKIOSK_FUZZ_EXAMPLES` examples per test (short by default; `make soak`
sets 100,000)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.fault.soak_report import record

EXAMPLES = int(os.environ.get("GATEKIOSK_FUZZ_EXAMPLES", "150"))

settings.register_profile(
    "network-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="session", autouse=True)
def fuzz_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a soak run, how many inputs were fuzzed and how long it took (bench/report.json)."""
    started = time.monotonic()
    yield
    tests = [i for i in request.session.items if "tests/fuzz/" in i.nodeid]
    record("network_fuzz", {
        "tests": len(tests), "examples_per_test": EXAMPLES, "inputs": EXAMPLES * len(tests),
        "seconds": round(time.monotonic() - started, 1),
    })
