"""The `simlog` pin factory keeps a pin's levels in its file when the process is SIGKILLed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from host_sim.pin_log import ENV_VAR, PinLogFactory, read_pin_log

DRIVER = """
import sys
from gpiozero import OutputDevice
relay = OutputDevice(17, initial_value=False)
relay.on()
print("on", flush=True)
sys.stdin.read()
"""


def test_the_levels_driven_before_a_sigkill_are_in_the_log(tmp_path):
    log = tmp_path / "pins.log"
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="simlog", **{ENV_VAR: str(log)})
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"on\n"
    finally:
        proc.kill()
        proc.wait(10)
    levels = read_pin_log(log)
    assert [(lv.pid, lv.pin, lv.high) for lv in levels] == [
        (proc.pid, "GPIO17", False), (proc.pid, "GPIO17", True)]
    assert levels[0].monotonic <= levels[1].monotonic


def test_the_factory_refuses_to_start_without_a_log_file(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match=ENV_VAR):
        PinLogFactory()


def test_a_pid_that_comes_round_again_is_two_lives_not_one(tmp_path):
    """Over a thousand kills the kernel reuses pids: a life is its pid between start and end."""
    from tests.fault.relay_history import RELAY_PIN, Life, check_relay

    log = tmp_path / "pins.log"
    lines = [
        (10.0, 4242, RELAY_PIN, 0), (11.0, 4242, RELAY_PIN, 1), (12.0, 4242, RELAY_PIN, 0),
        (13.0, 4242, RELAY_PIN, 1),  # killed at 13.5 with the relay high
        (900.0, 4242, RELAY_PIN, 0),  # the same pid, a later gate, starting low
    ]
    log.write_text("".join(f"{m:.6f} {m:.6f} {pid} {pin} {lv}\n" for m, pid, pin, lv in lines))
    lives = [Life(4242, 9.0, 13.5, killed=True), Life(4242, 899.0, 901.0, killed=True)]
    history = check_relay(log, RELAY_PIN, 2.0, lives)
    assert history.problems == [], history.problems
    assert (history.lives, history.highs, history.killed_high) == (2, 2, 1)
    assert history.longest_high_s == pytest.approx(1.0)
