"""What the person at the gate sees and hears: green and red LEDs, a buzzer, and prompt text.

Each outcome has its own pattern, told apart without reading (and by the colour-blind: the
beeps differ too):

| outcome   | green          | red                   | buzzer                   |
|-----------|----------------|-----------------------|--------------------------|
| idle      | off            | off                   | silent                   |
| measuring | slow blink     | off                   | silent                   |
| granted   | solid 2 s      | off                   | one short beep           |
| denied    | off            | solid 2 s             | two short beeps          |
| fever     | off            | fast blink 5 s        | five long beeps          |
| fault     | off            | slow blink, until cleared | silent               |

Prompt text goes to a `PromptSink` (the log, or the simulator's console). Each `show` also
publishes a `DisplayState` snapshot to its listeners: the screen (`firmware/screen`) and the
voice (`firmware/voice`) subscribe. Listeners must return at once; one that raises is logged
and the gate goes on.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TextIO

from gpiozero import LED, Buzzer

from firmware.core import prompts, reasons
from firmware.core.claims import PASS_TYPES
from firmware.hw.pins import PinMap

log = logging.getLogger(__name__)

OUTCOMES = ("idle", "measuring", "granted", "denied", "fever", "fault")


class Blink(NamedTuple):
    """gpiozero `blink(on_time, off_time, n)`: n=None repeats until the next pattern."""

    on_s: float
    off_s: float
    n: int | None


class Pattern(NamedTuple):
    """One outcome's drive of each output; None leaves that output off."""

    green: Blink | None
    red: Blink | None
    buzzer: Blink | None


def solid(seconds: float) -> Blink:
    """On for `seconds`, then off."""
    return Blink(seconds, 0.0, 1)


PATTERNS: dict[str, Pattern] = {
    "idle": Pattern(green=None, red=None, buzzer=None),
    "measuring": Pattern(green=Blink(0.5, 0.5, None), red=None, buzzer=None),
    "granted": Pattern(green=solid(2.0), red=None, buzzer=Blink(0.1, 0.0, 1)),
    "denied": Pattern(green=None, red=solid(2.0), buzzer=Blink(0.1, 0.1, 2)),
    "fever": Pattern(green=None, red=Blink(0.1, 0.1, 25), buzzer=Blink(0.5, 0.5, 5)),
    "fault": Pattern(green=None, red=Blink(1.0, 1.0, None), buzzer=None),
}

# Default prompt per outcome (the core's texts); the gate loop passes reason-specific text.
PROMPTS: dict[str, dict[str, str]] = {
    "idle": prompts.for_step(prompts.IDLE),
    "measuring": prompts.for_step(prompts.MEASURING),
    "granted": prompts.for_step(prompts.GRANTED),
    "denied": prompts.for_step(prompts.DENIED),
    "fever": prompts.for_reason(reasons.FEVER),
    "fault": prompts.for_step(prompts.FAULT),
}


# A building-unit-room such as 3-2-501; anything else is left off the screen.
_UNIT = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,15}")


class DisplayState(NamedTuple):
    """What the person at the gate is shown: a snapshot published by every `show`.

    Never a name: the pass type and the unit at most.
    """

    seq: int
    outcome: str
    key: str | None  # the prompt's key in firmware.core.prompts ("reason.fever"), if it has one
    text: dict[str, str]
    next_step: dict[str, str]
    body_c: float | None
    pass_type: str | None
    unit: str | None
    time: float  # wall clock, seconds since the epoch

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-able data."""
        return self._asdict()


DisplayListener = Callable[[DisplayState], None]


Detail = tuple[float | None, str | None, str | None]


def _detail(body_c: float | None, pass_type: str | None, unit: str | None) -> Detail:
    """Keep only detail that is fit for the screen (plausible, and never personal)."""
    body = None
    if isinstance(body_c, (int, float)) and not isinstance(body_c, bool) and 30 <= body_c <= 45:
        body = round(float(body_c), 1)
    kind = pass_type if pass_type in PASS_TYPES else None
    room = unit if isinstance(unit, str) and _UNIT.fullmatch(unit) else None
    return body, kind, room


class PromptSink(Protocol):
    def prompt(self, text_by_lang: dict[str, str]) -> None:
        """Show the same message in each language given (keys are language tags: en, zh)."""


class LogPromptSink:
    """Writes prompts to the log (the kiosk without a display)."""

    def prompt(self, text_by_lang: dict[str, str]) -> None:
        log.info("prompt: %s", _one_line(text_by_lang))


class ConsolePromptSink:
    """Prints each prompt as one line (the simulator's stand-in for a display)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def prompt(self, text_by_lang: dict[str, str]) -> None:
        stream = self._stream or sys.stdout
        stream.write(f"[prompt] {_one_line(text_by_lang)}\n")
        stream.flush()


def _one_line(text_by_lang: dict[str, str]) -> str:
    # Newlines in a prompt would split one log record into several.
    return " | ".join(
        f"{lang}: {' '.join(str(text).split())}" for lang, text in text_by_lang.items()
    )


class Indicator:
    """Green and red LEDs and a buzzer on gpiozero, plus a prompt sink."""

    def __init__(
        self,
        pins: PinMap,
        *,
        prompt_sink: PromptSink | None = None,
        patterns: dict[str, Pattern] | None = None,
        pin_factory: Any = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._wall_clock = wall_clock
        self._listeners: list[DisplayListener] = []
        self._lock = threading.Lock()
        self._seq = 0
        idle_next = prompts.next_for_step(prompts.IDLE)
        self.state = DisplayState(
            0, "idle", "step.idle", PROMPTS["idle"], idle_next, None, None, None, wall_clock()
        )
        self.patterns = dict(PATTERNS if patterns is None else patterns)
        missing = [outcome for outcome in OUTCOMES if outcome not in self.patterns]
        if missing:
            raise ValueError(f"patterns: no pattern for {', '.join(missing)}")
        self.prompt_sink: PromptSink = prompt_sink or LogPromptSink()
        self._devices: dict[str, Any] = {}
        try:
            self._devices["green"] = LED(pins.led_green, pin_factory=pin_factory)
            self._devices["red"] = LED(pins.led_red, pin_factory=pin_factory)
            self._devices["buzzer"] = Buzzer(pins.buzzer, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise
        self.current = "idle"

    def add_listener(self, listener: DisplayListener) -> None:
        """Call `listener` with every new display state (and once now, with the current one)."""
        with self._lock:
            self._listeners.append(listener)
            state = self.state
        self._notify(listener, state)

    def remove_listener(self, listener: DisplayListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def show(
        self,
        outcome: str,
        text_by_lang: dict[str, str] | None = None,
        *,
        body_c: float | None = None,
        pass_type: str | None = None,
        unit: str | None = None,
    ) -> None:
        """Start `outcome`'s pattern (ending the previous one), prompt its text and publish the
        display state, with the measured body temperature and the pass type and unit if given.

        An unknown outcome shows `fault`. Never raises: a broken LED must not stop the gate.
        """
        if outcome not in self.patterns:
            log.warning("indicator: unknown outcome %r, showing fault", outcome)
            outcome = "fault"
        self.current = outcome
        pattern = self.patterns[outcome]
        for name, blink in zip(Pattern._fields, pattern, strict=True):
            device = self._devices.get(name)
            if device is None:  # closed
                continue
            try:
                if blink is None:
                    device.off()
                else:
                    device.blink(on_time=blink.on_s, off_time=blink.off_s, n=blink.n)
            except Exception:
                log.exception("indicator: %s could not be driven", name)
        text = PROMPTS.get(outcome, {}) if text_by_lang is None else text_by_lang
        if text:
            try:
                self.prompt_sink.prompt(text)
            except Exception:
                log.exception("indicator: prompt sink failed")
        self._publish(outcome, dict(text), _detail(body_c, pass_type, unit))

    def _publish(self, outcome: str, text: dict[str, str], detail: Detail) -> None:
        key = prompts.key_for(text)
        next_step = prompts.next_for_key(key) if key else prompts.next_for_step(outcome)
        with self._lock:
            self._seq += 1
            body_c, pass_type, unit = detail
            self.state = DisplayState(
                self._seq, outcome, key, text, next_step, body_c, pass_type, unit,
                self._wall_clock(),
            )
            state, listeners = self.state, list(self._listeners)
        for listener in listeners:
            self._notify(listener, state)

    @staticmethod
    def _notify(listener: DisplayListener, state: DisplayState) -> None:
        try:
            listener(state)
        except Exception:
            log.exception("indicator: display listener %r failed", listener)

    def close(self) -> None:
        """Everything off, pins released."""
        for device in self._devices.values():
            try:
                device.off()
                device.close()
            except Exception:
                log.exception("indicator output could not be released")
        self._devices.clear()

    def __enter__(self) -> Indicator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
