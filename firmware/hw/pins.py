"""The kiosk's GPIO pin map (BCM numbers), checked before any pin is touched.

A bad map fails with one line naming the key and the problem, so a technician sees
`pins.relay: ...` instead of a door that opens at every boot.
"""

from __future__ import annotations

from dataclasses import dataclass

# The 40-pin header's user GPIOs are BCM 2..27; GPIO 0/1 (ID_SD/ID_SC) belong to the HAT EEPROM.
LOWEST_USER_GPIO = 2
HIGHEST_USER_GPIO = 27

# I2C1 SDA/SCL: the MLX90614 thermometer's bus, never free for a device of ours.
I2C_PINS = {2: "I2C SDA", 3: "I2C SCL"}

# BCM2835 ARM Peripherals / Raspberry Pi GPIO docs: "GPIO 0-8 have default pull-ups enabled,
# GPIO 9-27 have default pull-downs enabled" - the level every pin sits at from power-on until
# software (or the config.txt `gpio=` line, a few seconds later) takes it over.
LAST_PIN_PULLED_UP_AT_POWER_ON = 8

PULLS = ("up", "down", "none")
LEVELS = ("low", "high")

# The keys that name a pin (the rest of PinMap are electrical settings).
PIN_KEYS = ("relay", "door_contact", "exit_button", "led_green", "led_red", "buzzer")


class PinMapError(ValueError):
    """A pin map that must not reach the hardware; the message is one line naming the key."""


def pulled_up_at_power_on(gpio: int) -> bool:
    """True when `gpio` floats high between power-on and the moment software drives it."""
    return gpio <= LAST_PIN_PULLED_UP_AT_POWER_ON


@dataclass(frozen=True)
class PinMap:
    """Which BCM GPIO drives or reads each device, and how the lines are wired.

    Defaults match hardware/README.md: every device on GPIO 17-27, pulled down at power-on,
    so the relay, LEDs and buzzer all stay off while the Pi boots.
    """

    relay: int = 17
    door_contact: int = 27
    exit_button: int = 22
    led_green: int = 23
    led_red: int = 24
    buzzer: int = 25
    # True: the relay module energises when the GPIO is high (most opto-isolated modules
    # with a jumper set to "H"); False: it energises when the GPIO is low.
    relay_active_high: bool = True
    # Door contact: the recommended normally-closed reed between GPIO and GND with the internal
    # pull-up reads low while the door is shut and high when it opens or the wire is cut.
    door_contact_pull: str = "up"
    door_contact_closed_level: str = "low"
    # Exit button: a normally-open push button between GPIO and GND, internal pull-up.
    exit_button_pull_up: bool = True

    def validate(self, path: str = "pins") -> PinMap:
        """Check the map; raise `PinMapError` naming `path.key` and the problem. Returns self."""
        used: dict[int, str] = {}
        for key in PIN_KEYS:
            value = getattr(self, key)
            where = f"{path}.{key}"
            if isinstance(value, bool) or not isinstance(value, int):
                raise PinMapError(f"{where}: must be a BCM GPIO number (an integer), not {value!r}")
            if not LOWEST_USER_GPIO <= value <= HIGHEST_USER_GPIO:
                raise PinMapError(
                    f"{where}: GPIO {value} is outside the header's user GPIOs "
                    f"{LOWEST_USER_GPIO}..{HIGHEST_USER_GPIO} (BCM numbering)"
                )
            if value in I2C_PINS:
                raise PinMapError(
                    f"{where}: GPIO {value} is {I2C_PINS[value]}, reserved for the MLX90614 "
                    "thermometer"
                )
            if value in used:
                raise PinMapError(f"{where}: GPIO {value} is already used by {path}.{used[value]}")
            used[value] = key
        for key in ("relay_active_high", "exit_button_pull_up"):
            value = getattr(self, key)
            if not isinstance(value, bool):
                raise PinMapError(f"{path}.{key}: must be true or false, not {value!r}")
        if self.door_contact_pull not in PULLS:
            raise PinMapError(
                f"{path}.door_contact_pull: must be one of {', '.join(PULLS)}, "
                f"not {self.door_contact_pull!r}"
            )
        if self.door_contact_closed_level not in LEVELS:
            raise PinMapError(
                f"{path}.door_contact_closed_level: must be low or high, "
                f"not {self.door_contact_closed_level!r}"
            )
        self._check_relay_boot_level(path)
        return self

    def _check_relay_boot_level(self, path: str) -> None:
        # Between power-on and our first write the pin sits at its default pull: that level
        # must be the relay's inactive one, or the door opens on every boot (FIELD-NOTES).
        pulled_up = pulled_up_at_power_on(self.relay)
        if self.relay_active_high and pulled_up:
            raise PinMapError(
                f"{path}.relay: GPIO {self.relay} is pulled up at power-on, so an active-high "
                f"relay would fire at boot; use GPIO {LAST_PIN_PULLED_UP_AT_POWER_ON + 1}.."
                f"{HIGHEST_USER_GPIO}"
            )
        if not self.relay_active_high and not pulled_up:
            raise PinMapError(
                f"{path}.relay: GPIO {self.relay} is pulled down at power-on, so an active-low "
                f"relay would fire at boot; use GPIO 4..{LAST_PIN_PULLED_UP_AT_POWER_ON} or an "
                "active-high relay"
            )

    @property
    def relay_off_drive(self) -> str:
        """The `gpio=`/pinctrl drive that holds the relay off: dl (low) or dh (high)."""
        return "dl" if self.relay_active_high else "dh"

    def boot_gpio_lines(self) -> list[str]:
        """config.txt `gpio=` lines holding outputs off and inputs pulled from early boot on.

        The firmware applies them seconds before Linux starts; hardware/config.txt.snippet
        holds the lines for the default map.
        """
        indicators = sorted((self.led_green, self.led_red, self.buzzer))
        input_pulls = {
            self.door_contact: {"up": "pu", "down": "pd", "none": "pn"}[self.door_contact_pull],
            self.exit_button: "pu" if self.exit_button_pull_up else "pd",
        }
        lines = [
            f"gpio={self.relay}=op,{self.relay_off_drive}",
            f"gpio={','.join(map(str, indicators))}=op,dl",
        ]
        for pull in sorted(set(input_pulls.values()), reverse=True):
            gpios = sorted(gpio for gpio, p in input_pulls.items() if p == pull)
            lines.append(f"gpio={','.join(map(str, gpios))}=ip,{pull}")
        return lines
