"""The configuration loader refuses anything impossible, naming the key."""

import pytest

from firmware import config

GOOD = """
[device]
id = "gate-0042"
community = "sunshine-garden"
gate = "north-1"
direction = "out"

[policy]
open_hours = ["06:00-22:00", "22:30-23:30"]

[temperature]
threshold_c = 37.5

[temperature.model]
gain = 1.01

[mqtt]
brokers = ["mqtts://broker-a.example:8883", "broker-b.example:1883"]
settle_on = "puback"

[mqtt.tls]
ca = "{ca}"
"""


def test_a_good_file_loads_into_typed_objects(tmp_path):
    path = tmp_path / "gatekiosk.toml"
    (tmp_path / "ca.pem").write_text("a CA certificate\n")
    path.write_text(GOOD.replace("{ca}", str(tmp_path / "ca.pem")))
    cfg = config.load(path)
    assert cfg.device.direction == "out"
    assert cfg.temperature.threshold_c == 37.5
    assert isinstance(cfg.temperature.threshold_c, float)
    assert cfg.temperature.model.gain == 1.01
    assert cfg.temperature.model.intercept == 6.81  # default kept
    assert cfg.policy.open_hours_minutes() == [(360, 1320), (1350, 1410)]
    assert cfg.mqtt.brokers[1] == "broker-b.example:1883"
    assert len(cfg.source_hash) == 64


def test_an_empty_file_is_the_defaults():
    cfg = config.parse("")
    assert cfg.temperature.threshold_c == 37.3
    assert cfg.policy.open_hours_minutes() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[device]\nname = 'x'", "device.name: unknown key"),
        ("colour = 1", "colour: unknown key"),
        ("[temperature]\nthreshold_c = 41", "temperature.threshold_c: 41.0 is outside 35.0..40.0"),
        ("[temperature]\nthreshold_c = '37.3'", "temperature.threshold_c: must be a number"),
        ("[temperature]\nconfirm_fever = 1", "temperature.confirm_fever: must be true or false"),
        ("[temperature.model]\ngain = 3", "temperature.model.gain: 3.0 is outside"),
        ("[door]\npulse_s = 0", "door.pulse_s: 0.0 is outside"),
        ("[door]\npulse_s = 20.0\nmax_pulse_s = 10.0", "door.pulse_s: 20.0 s is longer than"),
        ("[pins]\nrelay = 23", "pins.led_green: GPIO 23 is already used by pins.relay"),
        ("[pins]\nrelay = 2", "pins.relay"),
        ("[device]\ndirection = 'both'", "device.direction: must be one of in, out"),
        ("[device]\ngate = 'north/1'", "device.gate"),
        ("[device]\ncommunity = 'a+b'", "device.community"),
        ("[mqtt]\nbrokers = 'x:1'", "mqtt.brokers: must be a list"),
        ("[mqtt]\nbrokers = ['no port']", "mqtt.brokers[0]"),
        ("[mqtt.tls]\ncert = 'c.pem'", "mqtt.tls: cert and key go together"),
        ("[policy]\nopen_hours = ['6-22']", "policy.open_hours[0]"),
        ("[policy]\nstale_grace_types = ['guest']", "policy.stale_grace_types[0]: must be one of"),
        ("[device]\n[device]", "not valid TOML"),
        ("device = 3", "device: must be a table"),
    ],
)
def test_impossible_values_fail_naming_the_key(text, message):
    with pytest.raises(config.ConfigError) as err:
        config.parse(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(tmp_path / "absent.toml")


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(path)


def test_an_mqtts_broker_needs_a_ca():
    with pytest.raises(config.ConfigError, match=r"mqtt\.tls\.ca"):
        config.parse("[mqtt]\nbrokers = ['mqtts://b.example:8883']")
    cfg = config.parse("[mqtt]\nbrokers = ['mqtts://b.example:8883']\n[mqtt.tls]\nca = 'ca.pem'")
    assert cfg.mqtt.tls.ca == "ca.pem"


def test_what_the_loader_accepts_the_drivers_accept():
    # An address the sensor cannot have is refused at load time, before the door is built.
    with pytest.raises(config.ConfigError, match=r"^thermometer\.address: 2 is outside 3\.\.119"):
        config.parse("[thermometer]\naddress = 2\n")
    cfg = config.parse("[thermometer]\naddress = 0x5B\n")
    from firmware.hw.thermometer import ThermometerSettings

    assert isinstance(cfg.thermometer, ThermometerSettings) and cfg.thermometer.address == 0x5B


@pytest.mark.parametrize("section", ["temperature", "door", "thermometer", "mqtt", "outbox"])
def test_no_float_key_takes_nan_or_infinity(section):
    import dataclasses
    import typing

    cls = typing.get_type_hints(config.Config)[section]
    floats = [
        f.name for f in dataclasses.fields(cls)
        if typing.get_type_hints(cls)[f.name] is float and not f.metadata.get("internal")
    ]
    assert floats, section
    for key in floats:
        for value in ("nan", "inf", "-inf"):
            with pytest.raises(config.ConfigError, match=rf"^{section}\.{key}: must be a finite"):
                config.parse(f"[{section}]\n{key} = {value}\n")
