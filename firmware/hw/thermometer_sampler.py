"""The thermometer's sampling thread: reads at the configured rate and reports every
outcome to the gate's queue — each good sample, a fault once, the recovery once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from firmware.clock import Clock
from firmware.hw.device_thread import DeviceThread
from firmware.hw.thermometer import DRIVER_ERROR, Sample, Thermometer, ThermometerFault

logger = logging.getLogger(__name__)

SampleCallback = Callable[[Sample], None]
FaultCallback = Callable[[str, str], None]
RecoveredCallback = Callable[[], None]


class ThermometerSampler:
    """Reads the thermometer at `settings.sample_hz` and hands every outcome on.

    `on_sample(sample)` gets each good reading. `on_fault(code, detail)` is called once when the
    thermometer turns unhealthy (`fault_after` failures in a row) and `on_recovered()` once when
    it reads again. Nothing that happens in a read or a callback stops the loop. `step()` does
    one iteration synchronously, for tests and for callers with their own loop.
    """

    def __init__(
        self,
        thermometer: Thermometer,
        clock: Clock,
        on_sample: SampleCallback,
        on_fault: FaultCallback,
        on_recovered: RecoveredCallback | None = None,
    ) -> None:
        self.thermometer = thermometer
        self._clock = clock
        self._on_sample = on_sample
        self._on_fault = on_fault
        self._on_recovered = on_recovered
        self._fault_reported = False
        self._thread = DeviceThread(
            "thermometer-sampler", clock, 1.0 / thermometer.settings.sample_hz, self._step
        )
        self.period_s = self._thread.period_s

    @property
    def in_fault(self) -> bool:
        """True between a reported fault and the reported recovery."""
        return self._fault_reported

    def step(self) -> Sample | ThermometerFault:
        """Read once, report what changed; returns the sample or the fault. Never raises."""
        try:
            outcome: Sample | ThermometerFault = self.thermometer.read()
        except ThermometerFault as fault:
            outcome = fault
        except Exception as error:  # the loop outlives any bug in a read
            logger.exception("thermometer read raised")
            outcome = ThermometerFault(DRIVER_ERROR, repr(error))
        if isinstance(outcome, Sample):
            if self._fault_reported:
                self._fault_reported = False
                logger.info("thermometer recovered")
                self._call(self._on_recovered)
            self._call(self._on_sample, outcome)
        elif not self.thermometer.healthy and not self._fault_reported:
            self._fault_reported = True
            logger.warning("thermometer fault %s: %s", outcome.code, outcome.detail)
            self._call(self._on_fault, outcome.code, outcome.detail)
        return outcome

    def _step(self) -> None:
        self.step()

    def start(self) -> None:
        """Run `step()` at the sample rate on a background thread."""
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end after its current step; True if it did within `timeout`."""
        return self._thread.stop(timeout)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a consumer's bug must not stop the sampling
            logger.exception("thermometer callback %r raised", callback)
