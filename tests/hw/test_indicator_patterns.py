"""LED and buzzer patterns: distinct per outcome, and what the pins actually did.

The pin tests run the real patterns scaled down in time (gpiozero blinks on real threads) and
wait on the pins' own change notifications with a bounded timeout.
"""

import io
import itertools
import threading

import pytest
from gpiozero.pins.mock import MockFactory

from firmware.hw.indicator import (
    OUTCOMES,
    PATTERNS,
    PROMPTS,
    Blink,
    ConsolePromptSink,
    Indicator,
    LogPromptSink,
    Pattern,
)
from firmware.hw.pins import PinMap
from host_sim.door_sim import WatchedOutputPin

PINS = PinMap()
SCALE = 0.02  # 2 s of pattern in 40 ms


def scaled(patterns: dict[str, Pattern], factor: float) -> dict[str, Pattern]:
    def blink(b: Blink | None) -> Blink | None:
        return None if b is None else Blink(b.on_s * factor, b.off_s * factor, b.n)

    return {name: Pattern(*(blink(b) for b in p)) for name, p in patterns.items()}


def beeps(pattern: Pattern) -> int | None:
    return 0 if pattern.buzzer is None else pattern.buzzer.n


class Outputs:
    """The three indicator pins, each counting its changes under one condition."""

    def __init__(self, factory: MockFactory) -> None:
        self.changed = threading.Condition()
        self.pins = {}
        for name, gpio in (
            ("green", PINS.led_green),
            ("red", PINS.led_red),
            ("buzzer", PINS.buzzer),
        ):
            pin = factory.pin(gpio, pin_class=WatchedOutputPin)
            pin.listener = self._notify
            self.pins[name] = pin

    def _notify(self, _level: bool) -> None:
        with self.changed:
            self.changed.notify_all()

    def levels(self, name: str) -> list[bool]:
        return [s.state for s in self.pins[name].states]

    def wait_for(self, expected: dict[str, list[bool]], timeout: float = 5.0) -> None:
        def done() -> bool:
            return all(self.levels(name) == want for name, want in expected.items())

        with self.changed:
            self.changed.wait_for(done, timeout=timeout)
        assert {name: self.levels(name) for name in expected} == expected

    def start_recording(self) -> None:
        for pin in self.pins.values():
            pin.clear_states()


@pytest.fixture
def rig():
    factory = MockFactory()
    outputs = Outputs(factory)
    prompts: list[dict[str, str]] = []

    class ListSink:
        def prompt(self, text_by_lang):
            prompts.append(text_by_lang)

    indicator = Indicator(
        PINS, prompt_sink=ListSink(), patterns=scaled(PATTERNS, SCALE), pin_factory=factory
    )
    outputs.start_recording()
    yield indicator, outputs, prompts
    indicator.close()


def test_every_outcome_has_its_own_pattern_and_prompt():
    assert set(PATTERNS) == set(OUTCOMES) == set(PROMPTS)
    for a, b in itertools.combinations(OUTCOMES, 2):
        assert PATTERNS[a] != PATTERNS[b], (a, b)
    for outcome in OUTCOMES:
        assert PROMPTS[outcome]["en"] and PROMPTS[outcome]["zh"], outcome


def test_patterns_tell_outcomes_apart_by_colour_and_by_sound():
    granted, denied, fever = PATTERNS["granted"], PATTERNS["denied"], PATTERNS["fever"]
    assert granted.green and not granted.red and beeps(granted) == 1
    assert denied.red and not denied.green and beeps(denied) == 2
    assert fever.red and not fever.green and beeps(fever) == 5
    assert fever.buzzer.on_s > denied.buzzer.on_s  # long beeps, not short ones
    assert fever.red.on_s < denied.red.on_s  # fast blink, not solid
    assert PATTERNS["fault"].buzzer is None and PATTERNS["fault"].red.n is None  # until cleared
    assert PATTERNS["measuring"].green.n is None and PATTERNS["measuring"].red is None
    assert PATTERNS["idle"] == Pattern(None, None, None)
    assert (granted.green.on_s, denied.red.on_s) == (2.0, 2.0)
    assert fever.red.n * (fever.red.on_s + fever.red.off_s) == pytest.approx(5.0)


def test_granted_lights_green_and_beeps_once(rig):
    indicator, outputs, prompts = rig
    indicator.show("granted")
    outputs.wait_for(
        {"green": [False, True, False], "red": [False], "buzzer": [False, True, False]}
    )
    assert prompts == [PROMPTS["granted"]]


def test_denied_lights_red_and_beeps_twice(rig):
    indicator, outputs, _ = rig
    indicator.show("denied", {"en": "Pass expired", "zh": "通行码已过期"})
    outputs.wait_for(
        {"green": [False], "red": [False, True, False], "buzzer": [False, True, False, True, False]}
    )


def test_fever_blinks_red_fast_and_beeps_five_times(rig):
    indicator, outputs, _ = rig
    indicator.show("fever")
    outputs.wait_for(
        {
            "green": [False],
            "red": [False, True] * 25 + [False],
            "buzzer": [False, True] * 5 + [False],
        }
    )


def test_fault_blinks_red_until_the_next_outcome_replaces_it(rig):
    indicator, outputs, _ = rig
    indicator.show("fault")
    with outputs.changed:
        assert outputs.changed.wait_for(lambda: len(outputs.levels("red")) >= 6, timeout=5.0)
    indicator.show("idle")
    assert outputs.pins["red"].state is False
    settled = len(outputs.levels("red"))
    indicator.show("granted")  # a later pattern runs on its own; red stays dark
    outputs.wait_for({"buzzer": [False, True, False]})
    assert len(outputs.levels("red")) == settled
    assert outputs.levels("buzzer") == [False, True, False]


def test_unknown_outcome_shows_fault(rig, caplog):
    indicator, outputs, prompts = rig
    indicator.show("confetti")
    assert indicator.current == "fault"
    assert "unknown outcome 'confetti'" in caplog.text
    assert prompts == [PROMPTS["fault"]]
    with outputs.changed:
        assert outputs.changed.wait_for(lambda: outputs.levels("red")[:2] == [False, True], 5.0)


def test_show_after_close_does_not_raise(rig):
    indicator, _, prompts = rig
    indicator.close()
    indicator.show("denied")
    assert prompts == [PROMPTS["denied"]]


def test_a_failing_prompt_sink_does_not_stop_the_lights(caplog):
    factory = MockFactory()

    class BrokenSink:
        def prompt(self, text_by_lang):
            raise OSError("display unplugged")

    indicator = Indicator(PINS, prompt_sink=BrokenSink(), pin_factory=factory)
    indicator.show("measuring")
    assert "prompt sink failed" in caplog.text
    assert factory.pin(PINS.led_green).state is True
    indicator.close()
    assert factory.pin(PINS.led_green).state is False


def test_indicator_needs_a_pattern_for_every_outcome():
    patterns = dict(PATTERNS)
    del patterns["fever"]
    with pytest.raises(ValueError, match="no pattern for fever"):
        Indicator(PINS, patterns=patterns, pin_factory=MockFactory())


def test_console_sink_prints_one_line_per_prompt():
    out = io.StringIO()
    ConsolePromptSink(out).prompt({"en": "Entry\ndenied", "zh": "禁止通行"})
    assert out.getvalue() == "[prompt] en: Entry denied | zh: 禁止通行\n"


def test_log_sink_logs_the_prompt(caplog):
    caplog.set_level("INFO", logger="firmware.hw.indicator")
    LogPromptSink().prompt({"en": "Welcome"})
    assert "prompt: en: Welcome" in caplog.text


def test_each_show_publishes_a_display_state_with_the_next_step_and_detail(rig):
    indicator, _, _ = rig
    states = []
    indicator.add_listener(states.append)
    assert [s.outcome for s in states] == ["idle"]  # the current state, at once
    indicator.show("fever", PROMPTS["fever"], body_c=38.44, pass_type="resident", unit="3-2-501")
    state = states[-1]
    assert (state.outcome, state.key, state.body_c, state.unit) == (
        "fever",
        "reason.fever",
        38.4,
        "3-2-501",
    )
    assert state.next_step["en"] == "Please step aside and wait; staff have been notified"
    assert state.seq == states[0].seq + 1 and state == indicator.state


def test_a_failing_display_listener_is_logged_and_the_others_still_hear(rig, caplog):
    indicator, outputs, _ = rig
    heard = []

    def broken(_state):
        raise RuntimeError("screen gone")

    indicator.add_listener(broken)
    indicator.add_listener(heard.append)
    indicator.show("granted")
    assert heard[-1].outcome == "granted" and "display listener" in caplog.text
    outputs.wait_for({"buzzer": [False, True, False]})
    indicator.remove_listener(heard.append)
    indicator.show("denied")
    assert heard[-1].outcome == "granted"
