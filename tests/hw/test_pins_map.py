"""The pin map is checked before any pin is touched, with one line naming the key."""

import dataclasses

import pytest

from firmware.hw.pins import PinMap, PinMapError, pulled_up_at_power_on


def test_default_pin_map_is_valid_and_keeps_everything_off_at_power_on():
    pins = PinMap().validate()
    assert pins.relay_active_high
    for key in ("relay", "led_green", "led_red", "buzzer"):
        assert not pulled_up_at_power_on(getattr(pins, key)), key


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"relay": "17"}, "pins.relay: must be a BCM GPIO number (an integer), not '17'"),
        ({"buzzer": True}, "pins.buzzer: must be a BCM GPIO number"),
        ({"led_green": 17.0}, "pins.led_green: must be a BCM GPIO number"),
        ({"exit_button": 1}, "pins.exit_button: GPIO 1 is outside the header's user GPIOs 2..27"),
        ({"led_red": 28}, "pins.led_red: GPIO 28 is outside"),
        ({"door_contact": 2}, "pins.door_contact: GPIO 2 is I2C SDA, reserved for the MLX90614"),
        ({"buzzer": 3}, "pins.buzzer: GPIO 3 is I2C SCL"),
        ({"led_red": 23}, "pins.led_red: GPIO 23 is already used by pins.led_green"),
        ({"relay": 25}, "pins.buzzer: GPIO 25 is already used by pins.relay"),
        ({"relay": 5}, "pins.relay: GPIO 5 is pulled up at power-on, so an active-high relay"),
        ({"relay": 8}, "pins.relay: GPIO 8 is pulled up at power-on"),
        (
            {"relay_active_high": False},
            "pins.relay: GPIO 17 is pulled down at power-on, so an active-low relay",
        ),
        ({"relay_active_high": 1}, "pins.relay_active_high: must be true or false, not 1"),
        ({"exit_button_pull_up": "yes"}, "pins.exit_button_pull_up: must be true or false"),
        ({"door_contact_pull": "pullup"}, "pins.door_contact_pull: must be one of up, down, none"),
        ({"door_contact_closed_level": 0}, "pins.door_contact_closed_level: must be low or high"),
    ],
)
def test_bad_pin_map_is_refused_with_the_key_and_the_problem(changes, expected):
    pins = dataclasses.replace(PinMap(), **changes)
    with pytest.raises(PinMapError) as caught:
        pins.validate()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_active_high_relay_is_accepted_on_every_pin_pulled_down_at_power_on():
    for gpio in range(9, 28):
        free = {"led_green": 4, "led_red": 5, "buzzer": 6, "door_contact": 7, "exit_button": 8}
        if gpio in free.values():
            continue
        PinMap(relay=gpio, **free).validate()


def test_active_low_relay_belongs_on_a_pin_pulled_up_at_power_on():
    PinMap(relay=4, relay_active_high=False).validate()


def test_error_names_the_section_the_caller_gives():
    with pytest.raises(PinMapError, match=r"^kiosk\.pins\.relay: "):
        PinMap(relay=99).validate("kiosk.pins")


def test_power_on_pull_follows_the_bcm_datasheet_split():
    assert [g for g in range(2, 28) if pulled_up_at_power_on(g)] == [2, 3, 4, 5, 6, 7, 8]


def test_boot_lines_hold_outputs_off_and_pull_inputs_as_wired():
    assert PinMap().boot_gpio_lines() == [
        "gpio=17=op,dl",
        "gpio=23,24,25=op,dl",
        "gpio=22,27=ip,pu",
    ]
    rewired = PinMap(
        relay=4,
        relay_active_high=False,
        door_contact=26,
        door_contact_pull="down",
        door_contact_closed_level="high",
        exit_button=5,
        led_green=12,
        led_red=6,
        buzzer=13,
    ).validate()
    assert rewired.relay_off_drive == "dh"
    assert rewired.boot_gpio_lines() == [
        "gpio=4=op,dh",
        "gpio=6,12,13=op,dl",
        "gpio=5=ip,pu",
        "gpio=26=ip,pd",
    ]


def test_a_contact_without_an_internal_pull_is_left_unpulled_at_boot():
    lines = PinMap(door_contact_pull="none").boot_gpio_lines()
    assert lines[-2:] == ["gpio=22=ip,pu", "gpio=27=ip,pn"]
