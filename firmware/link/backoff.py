"""Exponential back-off with full jitter, so that a city's gates do not return in lock-step."""

from __future__ import annotations

import random


class Backoff:
    """Exponential back-off with full jitter: wait n is uniform(0, min(max, initial * 2**n))."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng
        self._attempts = 0

    @property
    def ceiling(self) -> float:
        """The upper bound of the next wait."""
        return min(self._max_s, self._initial_s * 2 ** min(self._attempts, 62))

    def next_delay(self) -> float:
        """The next wait, in seconds; each call doubles the ceiling up to the maximum."""
        delay = self._rng.uniform(0.0, self.ceiling)
        self._attempts += 1
        return delay

    def reset(self) -> None:
        """Back to the first, shortest wait (after a link that held)."""
        self._attempts = 0
