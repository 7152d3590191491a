"""The MLX90614's output filter, as the simulated sensor applies it to what it looks at.

The sensor's IIR/FIR filter chain makes its object reading approach a step change over a
settling time that depends on the part (datasheet Rev 13, "Settling time"): about 0.10 s for
the general-purpose BAA parts, about 0.65 s for the medical 5° DCI parts. Modelled as a first
order low-pass whose time constant makes the output reach 99 % of a step in that time.
"""

from __future__ import annotations

import math

# Settling time of the object reading by part (seconds to settle after a step).
SETTLE_S_BY_PART = {"BAA": 0.10, "DCI": 0.65}
# A first-order response is within 1 % of a step after ln(100) ≈ 4.6 time constants.
TIME_CONSTANTS_TO_SETTLE = math.log(100.0)


def settle_s_for(part: str) -> float:
    """Settling time of `part` ("BAA", "DCI"); ValueError names the parts known."""
    try:
        return SETTLE_S_BY_PART[part.upper()]
    except KeyError:
        raise ValueError(f"unknown MLX90614 part {part!r} (known: BAA, DCI)") from None


class SettlingFilter:
    """First-order low-pass on a clock: `output(target, at)` is what the sensor reports."""

    def __init__(self, settle_s: float) -> None:
        if settle_s < 0:
            raise ValueError("settling time cannot be negative")
        self.settle_s = settle_s
        self._value: float | None = None
        self._at = 0.0

    def output(self, target: float, at: float) -> float:
        """Move the output toward `target` for the time since the last call; return it."""
        if self._value is None or self.settle_s == 0:
            self._value, self._at = target, at
            return target
        dt = max(0.0, at - self._at)
        keep = math.exp(-dt * TIME_CONSTANTS_TO_SETTLE / self.settle_s)
        self._value = target + (self._value - target) * keep
        self._at = at
        return self._value
