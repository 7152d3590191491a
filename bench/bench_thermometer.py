"""Thermometer sample latency through the real Adafruit driver, the PEC checks and the fake bus.

On the host this measures the software path only (driver, PEC proxy, retries, sanity checks,
simulated register map); on the Pi the two SMBus Read Words add about 0.6 ms each at 100 kHz.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import adafruit_mlx90614

from firmware.clock import SystemClock
from firmware.hw.thermometer import Thermometer, ThermometerSettings
from host_sim.mlx90614_sim import FakeMLX90614Bus, Scene

READS = 5000
WARM_UP = 200


def _latencies_us(operation: Callable[[], object], count: int) -> list[float]:
    for _ in range(WARM_UP):
        operation()
    timings = []
    for _ in range(count):
        started = time.perf_counter_ns()
        operation()
        timings.append((time.perf_counter_ns() - started) / 1000.0)
    return timings


def _summary(name: str, timings: list[float]) -> dict:
    ordered = sorted(timings)
    figures = {
        "mean_us": round(statistics.fmean(ordered), 2),
        "p50_us": round(ordered[len(ordered) // 2], 2),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "reads_per_s": round(1e6 / statistics.fmean(ordered)),
    }
    print(
        f"   {name:<34} mean {figures['mean_us']:8.1f} us  p50 {figures['p50_us']:8.1f} us  "
        f"p99 {figures['p99_us']:8.1f} us  {figures['reads_per_s']:>8} reads/s"
    )
    return figures


def run() -> dict:
    """Measure one sample (ambient + object) along each path; return the figures."""
    clock = SystemClock()
    scene = Scene(clock, ambient_c=22.0, noise_c=0.03).arrive(skin_c=35.5)
    bus = FakeMLX90614Bus(scene, history=16)
    thermometer = Thermometer(bus, ThermometerSettings(retry_backoff_s=0.0), clock)

    bare_driver = adafruit_mlx90614.MLX90614(bus)

    def unchecked_sample() -> None:
        _ = bare_driver.ambient_temperature, bare_driver.object_temperature

    def sample_with_one_retry() -> None:
        bus.inject_oserror(count=1)
        thermometer.read()

    results: dict[str, object] = {
        "thermometer_read": _summary(
            "Thermometer.read (checked)", _latencies_us(thermometer.read, READS)
        ),
        "driver_only_unchecked": _summary(
            "driver alone, no PEC (reference)", _latencies_us(unchecked_sample, READS)
        ),
        "read_with_one_errno121_retry": _summary(
            "read with one Errno 121 retried", _latencies_us(sample_with_one_retry, READS // 5)
        ),
    }
    print("   (retry figure excludes the configured back-off, 5 ms by default)")
    results["reads"] = READS
    return results


if __name__ == "__main__":
    run()
