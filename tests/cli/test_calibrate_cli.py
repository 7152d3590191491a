"""`gatekiosk calibrate`: points recorded through the real driver, stored, fitted, printed."""

from __future__ import annotations

import json
import tomllib

import pytest

from firmware import config
from firmware.assemble import open_thermometer_bus
from firmware.cli import calibration_points
from firmware.cli.calibration_points import Point
from firmware.cli.errors import Refused, UsageError
from firmware.clock import ManualClock
from firmware.core import calibration
from firmware.hw.thermometer import Thermometer
from host_sim.mlx90614_sim import FakeMLX90614Bus, Scene

SENSOR_RESOLUTION_C = 0.02


def sim_thermometer(cfg, clock):
    """The thermometer a sim config builds, and the scene in front of it."""
    bus = open_thermometer_bus(cfg, clock)
    return Thermometer(bus, cfg.thermometer, clock), bus.scene


# -- the points file --------------------------------------------------------------------------


def test_points_round_trip_through_the_csv_file(tmp_path):
    path = tmp_path / "calibration.csv"
    written = [
        Point("2026-01-05T08:00:00.000Z", 34.512, 18.25, 36.7, 16, 0.08),
        Point("2026-01-05T14:30:00.000Z", 35.104, 27.5, 36.9, 15, 0.12),
    ]
    assert [calibration_points.append_point(path, p) for p in written] == [1, 2]
    points, commented = calibration_points.read_points(path)
    assert points == written and commented == 0
    assert path.read_text().splitlines()[0] == ",".join(calibration_points.COLUMNS)
    assert path.stat().st_mode & 0o777 == 0o644


def test_commented_points_are_left_out_and_counted(tmp_path):
    path = tmp_path / "calibration.csv"
    for p in (
        Point("t1", 34.5, 18.0, 36.7, 16, 0.1),
        Point("t2", 34.6, 19.0, 39.9, 16, 0.1),
        Point("t3", 34.7, 20.0, 36.8, 16, 0.1),
    ):
        calibration_points.append_point(path, p)
    lines = path.read_text().splitlines()
    lines[2] = "# wrong reference reading: " + lines[2]
    path.write_text("\n".join(lines) + "\n")
    points, commented = calibration_points.read_points(path)
    assert [p.time for p in points] == ["t1", "t3"] and commented == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,what\n1,2\n", "not a calibration file"),
        (
            "time,object_c,ambient_c,reference_c,samples,spread_c\nt,34.5,x,36.8,16,0.1\n",
            "line 2: ambient_c 'x' is not a number",
        ),
        (
            "time,object_c,ambient_c,reference_c,samples,spread_c\nt,34.5,nan,36.8,16,0.1\n",
            "line 2: ambient_c 'nan' is not a finite number",
        ),
        ("time,object_c,ambient_c,reference_c,samples,spread_c\nt,34.5\n", "line 2: 2 fields"),
    ],
)
def test_a_broken_points_file_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "points.csv"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        calibration_points.read_points(path)


# -- record -----------------------------------------------------------------------------------


def test_record_stores_the_medians_of_a_person_at_a_known_skin_temperature(site):
    cfg = config.load(site.config())
    clock = ManualClock()
    thermometer, scene = sim_thermometer(cfg, clock)
    scene.arrive(skin_c=34.85)
    out = site.data_dir / "calibration.csv"
    point, count = calibration_points.record(
        cfg, 36.9, 16, out, clock=clock, thermometer=thermometer
    )
    assert count == 1 and point.samples == 16
    assert point.object_c == pytest.approx(34.85, abs=0.05)  # noise 0.03, resolution 0.02
    assert point.ambient_c == pytest.approx(22.0, abs=SENSOR_RESOLUTION_C)
    assert point.reference_c == 36.9
    # 16 reads at the configured 50 Hz: 15 gaps of 20 ms on the injected clock.
    assert clock.monotonic() - 1000.0 == pytest.approx(15 / 50.0)
    stored, _ = calibration_points.read_points(out)
    assert len(stored) == 1
    assert stored[0].object_c == pytest.approx(point.object_c, abs=0.001)


def test_record_refuses_when_nobody_is_in_range(site):
    cfg = config.load(site.config())
    clock = ManualClock()
    thermometer, _scene = sim_thermometer(cfg, clock)
    out = site.data_dir / "calibration.csv"
    with pytest.raises(Refused, match="no person in range in 16 of 16"):
        calibration_points.record(cfg, 36.8, 16, out, clock=clock, thermometer=thermometer)
    assert not out.exists()


def test_record_refuses_a_person_who_leaves_halfway(site):
    cfg = config.load(site.config())
    clock = ManualClock()
    thermometer, scene = sim_thermometer(cfg, clock)
    scene.arrive(skin_c=34.8).leave(at=0.15)  # gone after 8 of the 16 reads
    with pytest.raises(Refused, match="no person in range in 8 of 16"):
        calibration_points.record(
            cfg, 36.8, 16, site.data_dir / "c.csv", clock=clock, thermometer=thermometer
        )


def test_record_refuses_unsteady_readings(site):
    cfg = config.load(site.config())
    clock = ManualClock()
    scene = Scene(clock, 22.0, noise_c=0.4, object_emissivity=0.98).arrive(skin_c=34.8)
    thermometer = Thermometer(FakeMLX90614Bus(scene), cfg.thermometer, clock)
    with pytest.raises(Refused, match=r"unsteady: object readings spread \d\.\d\d °C"):
        calibration_points.record(
            cfg, 36.8, 16, site.data_dir / "c.csv", clock=clock, thermometer=thermometer
        )


def test_record_refuses_a_faulty_sensor_with_its_fault_code(site):
    cfg = config.load(site.config())
    clock = ManualClock()
    bus = open_thermometer_bus(cfg, clock)
    bus.scene.arrive(skin_c=34.8)
    bus.disconnect()
    with pytest.raises(Refused, match="16 of 16 reads failed \\(no_device"):
        calibration_points.record(
            cfg,
            36.8,
            16,
            site.data_dir / "c.csv",
            clock=clock,
            thermometer=Thermometer(bus, cfg.thermometer, clock),
        )


def test_record_cli_refuses_an_empty_room_with_exit_1(site, gatekiosk):
    code, _out, err = gatekiosk(
        "calibrate", "record", "--config", str(site.config()), "--reference", "36.8",
        "--samples", "4",
    )
    assert code == 1
    assert err.startswith("gatekiosk calibrate record: refused: no person in range")
    assert err.count("\n") == 1
    assert not (site.data_dir / "calibration.csv").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--reference", "3.68"), "is not a core temperature"),
        (("--reference", "nan"), "not a finite number"),
        (("--reference", "36.8", "--samples", "2"), "not a whole number in 4..200"),
        (("--reference", "36.8", "--out", "/nonexistent/dir/c.csv"), "no such directory"),
    ],
)
def test_record_cli_usage_errors_exit_2_before_reading(site, gatekiosk, extra, message):
    code, out, err = gatekiosk("calibrate", "record", "--config", str(site.config()), *extra)
    assert code == 2 and message in err and out == ""
    assert err.count("\n") == 1


def test_record_cli_bad_config_exits_2(tmp_path, gatekiosk):
    bad = tmp_path / "bad.toml"
    bad.write_text("[door]\npulse_s = 0\n")
    code, _out, err = gatekiosk(
        "calibrate", "record", "--config", str(bad), "--reference", "36.8"
    )
    assert code == 2 and "door.pulse_s: 0.0 is outside 0.2..30.0" in err


# -- fit --------------------------------------------------------------------------------------


def write_points(path, model, rows):
    gain, slope, intercept = model
    for i, (o, a) in enumerate(rows):
        reference = round(gain * o + slope * a + intercept, 6)
        calibration_points.append_point(path, Point(f"t{i}", o, a, reference, 16, 0.1))


def model_block(out):
    """The pasteable table at the end of `fit`'s output."""
    return out[out.index("\n[temperature.model]\n") + 1 :]


SPREAD_ROWS = [
    (33.1, 15.0), (34.9, 17.5), (33.8, 19.0), (35.6, 21.0), (34.2, 23.5),
    (35.9, 25.0), (33.5, 27.5), (35.2, 29.0), (34.6, 30.5),
]


def test_fit_prints_a_model_table_that_loads_and_recovers_the_points_model(site, gatekiosk):
    points = site.data_dir / "calibration.csv"
    write_points(points, (0.96, -0.17, 7.3), SPREAD_ROWS)
    code, out, err = gatekiosk("calibrate", "fit", "--config", str(site.config()))
    assert code == 0, err
    assert "points: 9 used" in out and "fitted: gain, ambient_slope and intercept" in out
    block = model_block(out)
    model = tomllib.loads(block)["temperature"]["model"]
    # The file keeps references to 0.01 °C, so the model comes back within that noise ...
    assert model == pytest.approx({"gain": 0.96, "ambient_slope": -0.17, "intercept": 7.3},
                                  abs=0.02)
    # ... and exactly as the core fits the stored points, to the printed decimals.
    stored = [p.as_tuple() for p in calibration_points.read_points(points)[0]]
    fitted = calibration.fit(stored, 1.0, -0.186)
    for name in ("gain", "ambient_slope", "intercept"):
        assert model[name] == round(fitted[name], 4)
    cfg = config.parse(block)  # pastes into a config as printed
    assert cfg.temperature.model.gain == pytest.approx(0.96, abs=1e-4)


def test_fit_json_has_the_same_model_and_residuals(site, gatekiosk):
    points = site.root / "points.csv"
    write_points(points, (1.0, -0.2, 7.0), SPREAD_ROWS[:5])
    code, out, _err = gatekiosk("calibrate", "fit", "--points", str(points), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["mode"] == "ambient" and result["note"] == "few_points_for_gain"
    assert result["ambient_slope"] == pytest.approx(-0.2, abs=1e-6)
    assert result["points"] == 5 and result["rms_c"] == pytest.approx(0.0, abs=1e-5)
    assert tomllib.loads(result["toml"])["temperature"]["model"]["gain"] == 1.0


def test_fit_with_one_room_fits_only_the_intercept_and_says_why(site, gatekiosk):
    points = site.root / "points.csv"
    write_points(points, (1.0, -0.3, 9.0), [(34.5, 21.0), (34.9, 22.0), (35.1, 22.5)])
    cfg_path = site.config(extra="[temperature.model]\ngain = 0.98\nambient_slope = -0.15\n")
    code, out, _err = gatekiosk("calibrate", "fit", "--config", str(cfg_path),
                                "--points", str(points))
    assert code == 0
    assert "note: the rooms spread 1.5 °C, less than 4 °C: only the intercept" in out
    model = tomllib.loads(model_block(out))["temperature"]["model"]
    assert model["gain"] == 0.98 and model["ambient_slope"] == -0.15


def test_fit_refuses_out_of_bound_coefficients_with_one_line(site, gatekiosk):
    points = site.root / "points.csv"
    write_points(points, (1.0, -1.7, 40.0), SPREAD_ROWS[:4])
    code, out, err = gatekiosk("calibrate", "fit", "--points", str(points))
    assert code == 1 and out == ""
    assert err.startswith("gatekiosk calibrate fit: refused: ambient_slope -1.7000 is outside")
    assert err.count("\n") == 1


def test_fit_without_points_refuses_and_a_missing_file_is_a_usage_error(site, gatekiosk):
    empty = site.root / "empty.csv"
    empty.write_text(",".join(calibration_points.COLUMNS) + "\n")
    code, _out, err = gatekiosk("calibrate", "fit", "--points", str(empty))
    assert code == 1 and "no points in" in err
    code, _out, err = gatekiosk("calibrate", "fit", "--config", str(site.config()))
    assert code == 2 and "calibration.csv: no such file (record points first)" in err


def test_record_cli_appends_points_from_the_configured_sensor(site, gatekiosk, monkeypatch):
    from firmware import assemble

    original = assemble.open_thermometer_bus

    def with_a_person(cfg, clock):
        bus = original(cfg, clock)
        bus.scene.arrive(skin_c=34.7)
        return bus

    monkeypatch.setattr(assemble, "open_thermometer_bus", with_a_person)
    cfg_path = str(site.config())
    code, out, err = gatekiosk(
        "calibrate", "record", "--config", cfg_path, "--reference", "36.9", "--samples", "6",
        "--json",
    )
    assert code == 0, err
    point = json.loads(out)
    assert point["object_c"] == pytest.approx(34.7, abs=0.06) and point["samples"] == 6
    assert point["file"] == str(site.data_dir / "calibration.csv")
    # The configured (default) model's reading at this point, for the technician to compare.
    assert point["current_model_body_c"] == pytest.approx(
        point["object_c"] - 0.186 * point["ambient_c"] + 6.81, abs=0.01
    )
    code, out, err = gatekiosk(
        "calibrate", "record", "--config", cfg_path, "--reference", "37.0", "--samples", "6"
    )
    assert code == 0, err
    assert "recorded point 2 in" in out and "reference 37.00 °C" in out
    assert len(calibration_points.read_points(site.data_dir / "calibration.csv")[0]) == 2
