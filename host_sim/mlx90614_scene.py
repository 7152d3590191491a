"""What the simulated MLX90614 looks at: the room and a person's forehead over time.

`Scene` is driven by the injected clock; the sensor's output filter (`mlx90614_filter`) makes
its object reading settle like the part's. `mlx90614_sim.FakeMLX90614Bus` answers the real
driver from it.
"""

from __future__ import annotations

import math
import random
import threading
from typing import TypeVar

from firmware.clock import Clock
from host_sim.mlx90614_filter import SettlingFilter

_Value = TypeVar("_Value")


class Scene:
    """What is in front of the sensor over time: room temperature and a person's forehead.

    Times (`at`) are seconds since the scene was made, on the injected clock; `None` means now.
    With nobody there the sensor looks at the room, so the object reads the ambient temperature.
    `noise_c` adds seeded Gaussian noise to the object temperature, as a real thermopile has
    (without it the words never change and a stuck-sensor check will rightly trip).
    """

    def __init__(
        self,
        clock: Clock,
        ambient_c: float = 22.0,
        *,
        noise_c: float = 0.03,
        object_emissivity: float = 1.0,
        seed: int = 0,
        settle_s: float = 0.0,
    ) -> None:
        self.clock = clock
        self.object_emissivity = object_emissivity
        # The part's output filter (host_sim/mlx90614_filter.py); 0 answers a step at once.
        self.filter = SettlingFilter(settle_s)
        self._noise_c = noise_c
        self._random = random.Random(seed)
        self._start = clock.monotonic()
        self._lock = threading.Lock()
        # Timelines of (at, value); the latest entry at or before now wins.
        self._ambient: list[tuple[float, float]] = [(-math.inf, ambient_c)]
        self._skin: list[tuple[float, float | None]] = [(-math.inf, None)]

    def arrive(self, at: float | None = None, skin_c: float = 34.5) -> Scene:
        """A person's forehead fills the sensor's view from `at` on."""
        return self._schedule(self._skin, at, skin_c)

    def leave(self, at: float | None = None) -> Scene:
        """The person steps away at `at`; the sensor sees the room again."""
        return self._schedule(self._skin, at, None)

    def set_ambient(self, ambient_c: float, at: float | None = None) -> Scene:
        """The room (and the sensor's own package) is at `ambient_c` from `at` on."""
        return self._schedule(self._ambient, at, ambient_c)

    def elapsed(self) -> float:
        """Seconds since the scene was made."""
        return self.clock.monotonic() - self._start

    def ambient_c(self) -> float:
        """Ambient temperature now."""
        with self._lock:
            return _value_at(self._ambient, self.elapsed())

    def skin_c(self) -> float | None:
        """The forehead temperature of the person in view now, or None."""
        with self._lock:
            return _value_at(self._skin, self.elapsed())

    def object_c(self) -> float:
        """What the sensor's object channel settles toward now: filtered, noise included."""
        skin = self.skin_c()
        target = self.ambient_c() if skin is None else skin
        with self._lock:
            target = self.filter.output(target, self.elapsed())
        if self._noise_c:
            with self._lock:
                target += self._random.gauss(0.0, self._noise_c)
        return target

    def _schedule(
        self, timeline: list[tuple[float, _Value]], at: float | None, value: _Value
    ) -> Scene:
        when = self.elapsed() if at is None else float(at)
        with self._lock:
            timeline.append((when, value))
            timeline.sort(key=lambda entry: entry[0])
        return self


def _value_at(timeline: list[tuple[float, _Value]], elapsed: float) -> _Value:
    value = timeline[0][1]
    for at, entry in timeline:
        if at > elapsed:
            break
        value = entry
    return value
