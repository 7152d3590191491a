"""Body temperature from object and ambient readings; the stable-reading window.

Shared by CPython (test_temperature_rules.py) and MicroPython (test_core_under_micropython.py).
"""

from case_table import Table, close

from firmware.core import temperature as t

TABLE = Table("temperature")
case = TABLE.case

MODEL = t.CompensationModel()
POLICY = t.TemperaturePolicy()


@case()
def compensation_adds_more_in_a_cold_room():
    cold = MODEL.body(34.0, 20.0) - 34.0
    warm = MODEL.body(34.0, 30.0) - 34.0
    assert close(cold, 3.09, abs_tol=0.01)
    assert close(warm, 1.23, abs_tol=0.01)


@case()
def a_calibrated_model_replaces_the_defaults():
    model = t.CompensationModel(gain=1.02, ambient_slope=-0.1, intercept=3.0)
    assert close(model.body(35.0, 25.0), 1.02 * 35.0 - 2.5 + 3.0)


@case((37.29, False), (37.3, True), (37.299999999, True), (37.2949, False), (37.31, True))
def the_threshold_is_reaches_or_exceeds_in_hundredths(body, fever):
    assert t.is_fever(body, 37.3) is fever


def samples_at(now, objects, ambient=25.0, step=0.1):
    n = len(objects)
    return [(now - (n - 1 - i) * step, obj, ambient) for i, obj in enumerate(objects)]


@case()
def a_stable_reading_is_the_median_of_the_latest_samples():
    now = 100.0
    reading = t.stable_reading(samples_at(now, [35.0, 35.1, 35.05]), now, MODEL, POLICY)
    assert reading is not None
    assert close(reading.object_c, 35.05)
    assert close(reading.body_c, MODEL.body(35.05, 25.0))
    assert reading.samples == 3


@case()
def too_few_samples_give_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [35.0, 35.1]), now, MODEL, POLICY) is None


@case()
def samples_outside_the_window_do_not_count():
    now = 100.0
    old = [(now - 5.0, 35.0, 25.0), (now - 4.9, 35.0, 25.0)]
    # Concatenated: MicroPython has no star-unpacking in a list display.
    assert t.stable_reading(old + [(now, 35.0, 25.0)], now, MODEL, POLICY) is None  # noqa: RUF005


@case()
def unsteady_samples_give_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [34.0, 35.0, 36.0]), now, MODEL, POLICY) is None


@case()
def implausible_samples_are_dropped_not_averaged():
    now = 100.0
    # A person stepping out (object = room temperature) and a failed read (1037.55 °C).
    samples = samples_at(now, [35.0, 25.0, 1037.55, 35.1, 35.0], step=0.05)
    reading = t.stable_reading(samples, now, MODEL, POLICY)
    assert reading is not None
    assert close(reading.object_c, 35.0)


@case()
def ambient_outside_the_sensor_range_gives_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [35.0] * 4, ambient=-5.0), now, MODEL, POLICY) is None


@case()
def garbage_samples_never_raise():
    now = 100.0
    garbage = [(now, "35", 25.0), (now, None, None), (), (now, float("nan"), 25.0), (now, 35.0)]
    assert t.stable_reading(garbage, now, MODEL, POLICY) is None  # type: ignore[arg-type]


@case(
    ([], t.UNAVAILABLE),
    ([36.5], t.NORMAL),
    ([37.3], t.REMEASURE),
    ([37.3, 37.2], t.NORMAL),
    ([37.3, 37.4], t.FEVER),
    ([37.3, 50.0], t.UNAVAILABLE),
    (["37"], t.UNAVAILABLE),
)
def assess(bodies, outcome):
    assert t.assess(bodies, POLICY) == outcome


@case()
def ambient_warning_outside_16_to_32():
    assert t.ambient_warning(15.9) and t.ambient_warning(32.1)
    assert not t.ambient_warning(16.0) and not t.ambient_warning(32.0)
