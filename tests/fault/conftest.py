"""The fault tests use the gate tests' simulated rig and community."""

from tests.gate.conftest import clock, community, keys, make_rig  # noqa: F401
