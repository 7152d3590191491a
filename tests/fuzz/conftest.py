"""Fuzz profile: `GATEKIOSK_FUZZ_EXAMPLES` examples per test (short by default; `make soak`
sets 100,000)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("GATEKIOSK_FUZZ_EXAMPLES", "150"))

settings.register_profile(
    "network-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
