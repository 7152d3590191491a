"""Scenarios for `gatekiosk-sim`: a compound's gates, people and world events, in TOML.

`load.py` reads and checks a file into `model.Scenario`; `runner.py` plays it on the firmware's
own gates over simulated hardware; `verdict.py` checks what happened. README.md documents the
format; `day.toml` is the built-in day that `make sim` plays.
"""

from pathlib import Path

DAY_SCENARIO = Path(__file__).with_name("day.toml")
