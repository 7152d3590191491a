"""Body temperature from object and ambient readings; the stable-reading window."""

import pytest

from firmware.core import temperature as t

MODEL = t.CompensationModel()
POLICY = t.TemperaturePolicy()


def test_compensation_adds_more_in_a_cold_room():
    cold = MODEL.body(34.0, 20.0) - 34.0
    warm = MODEL.body(34.0, 30.0) - 34.0
    assert cold == pytest.approx(3.09, abs=0.01)
    assert warm == pytest.approx(1.23, abs=0.01)


def test_a_calibrated_model_replaces_the_defaults():
    model = t.CompensationModel(gain=1.02, ambient_slope=-0.1, intercept=3.0)
    assert model.body(35.0, 25.0) == pytest.approx(1.02 * 35.0 - 2.5 + 3.0)


@pytest.mark.parametrize(
    ("body", "fever"),
    [(37.29, False), (37.3, True), (37.299999999, True), (37.2949, False), (37.31, True)],
)
def test_the_threshold_is_reaches_or_exceeds_in_hundredths(body, fever):
    assert t.is_fever(body, 37.3) is fever


def samples_at(now, objects, ambient=25.0, step=0.1):
    n = len(objects)
    return [(now - (n - 1 - i) * step, obj, ambient) for i, obj in enumerate(objects)]


def test_a_stable_reading_is_the_median_of_the_latest_samples():
    now = 100.0
    reading = t.stable_reading(samples_at(now, [35.0, 35.1, 35.05]), now, MODEL, POLICY)
    assert reading is not None
    assert reading.object_c == pytest.approx(35.05)
    assert reading.body_c == pytest.approx(MODEL.body(35.05, 25.0))
    assert reading.samples == 3


def test_too_few_samples_give_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [35.0, 35.1]), now, MODEL, POLICY) is None


def test_samples_outside_the_window_do_not_count():
    now = 100.0
    old = [(now - 5.0, 35.0, 25.0), (now - 4.9, 35.0, 25.0)]
    assert t.stable_reading([*old, (now, 35.0, 25.0)], now, MODEL, POLICY) is None


def test_unsteady_samples_give_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [34.0, 35.0, 36.0]), now, MODEL, POLICY) is None


def test_implausible_samples_are_dropped_not_averaged():
    now = 100.0
    # A person stepping out (object = room temperature) and a failed read (1037.55 °C).
    samples = samples_at(now, [35.0, 25.0, 1037.55, 35.1, 35.0], step=0.05)
    reading = t.stable_reading(samples, now, MODEL, POLICY)
    assert reading is not None
    assert reading.object_c == pytest.approx(35.0)


def test_ambient_outside_the_sensor_range_gives_no_reading():
    now = 100.0
    assert t.stable_reading(samples_at(now, [35.0] * 4, ambient=-5.0), now, MODEL, POLICY) is None


def test_garbage_samples_never_raise():
    now = 100.0
    garbage = [(now, "35", 25.0), (now, None, None), (), (now, float("nan"), 25.0), (now, 35.0)]
    assert t.stable_reading(garbage, now, MODEL, POLICY) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bodies", "outcome"),
    [
        ([], t.UNAVAILABLE),
        ([36.5], t.NORMAL),
        ([37.3], t.REMEASURE),
        ([37.3, 37.2], t.NORMAL),
        ([37.3, 37.4], t.FEVER),
        ([37.3, 50.0], t.UNAVAILABLE),
        (["37"], t.UNAVAILABLE),
    ],
)
def test_assess(bodies, outcome):
    assert t.assess(bodies, POLICY) == outcome


def test_ambient_warning_outside_16_to_32():
    assert t.ambient_warning(15.9) and t.ambient_warning(32.1)
    assert not t.ambient_warning(16.0) and not t.ambient_warning(32.0)
