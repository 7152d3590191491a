"""Fuzz profile: `GATEKIOSK_FUZZ_EXAMPLES` (150 by default, `make soak` sets 100,000) examples
for each family of inputs, shared out by `share` among the tests of a family and cut to what
a test's cost allows (see tests/fuzz/README.md for the choices)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from tests.credentials.conftest import ed_key, es_key, jws, keys  # noqa: F401
from tests.fault.soak_report import record

SHORT = 150  # the short profile's inputs per family (`make test`)
EXAMPLES = int(os.environ.get("GATEKIOSK_FUZZ_EXAMPLES", str(SHORT)))

settings.register_profile(
    "network-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# test function name -> its max_examples, for the figures
PLANNED: dict[str, int] = {}
F = TypeVar("F", bound=Callable[..., Any])


def share(tests: int, fraction: float = 1.0) -> Callable[[F], F]:
    """Settings for one of `tests` tests sharing a family's `fraction` x GATEKIOSK_FUZZ_EXAMPLES;
    never fewer than the short profile gives the family (150 / `tests`)."""
    floor = math.ceil(min(EXAMPLES, SHORT) / tests)
    examples = max(1, floor, math.ceil(EXAMPLES * fraction / tests))

    def apply(test: F) -> F:
        PLANNED[test.__name__] = examples
        applied: F = settings(settings.get_profile("network-fuzz"), max_examples=examples)(test)
        return applied

    return apply


@pytest.fixture(scope="session", autouse=True)
def fuzz_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a soak run, how many inputs were fuzzed and how long it took (bench/report.json)."""
    started = time.monotonic()
    yield
    tests = [i for i in request.session.items if "tests/fuzz/" in i.nodeid]
    per_test = {i.name: PLANNED.get(i.name.split("[")[0], 1) for i in tests}  # 1: not fuzzed
    record("network_fuzz", {
        "tests": len(tests), "examples_setting": EXAMPLES, "examples_per_test": per_test,
        "inputs": sum(per_test.values()), "seconds": round(time.monotonic() - started, 1),
    })
