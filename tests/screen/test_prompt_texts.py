"""Every prompt tells the person what to do next, in every language (firmware/core/prompts.py
is the one source of the texts the screen shows and the voice says)."""

from __future__ import annotations

import pytest

from firmware.core import prompts, reasons


def test_every_reason_and_step_has_a_prompt_and_a_next_step_in_three_languages():
    assert prompts.check_complete() == []
    for reason in reasons.ALL:
        text, next_step = prompts.for_reason(reason), prompts.next_for_reason(reason)
        for lang in prompts.LANGUAGES:
            assert text[lang] and next_step[lang], (reason, lang)
            assert next_step[lang] != text[lang], (reason, lang)
    for step in prompts.STEPS:
        assert all(prompts.next_for_step(step)[lang] for lang in prompts.LANGUAGES), step


def test_a_missing_translation_or_next_step_is_caught(monkeypatch):
    monkeypatch.setitem(prompts.NEXT_FOR_REASON, reasons.PASS_EXPIRED, ("续期", "", "갱신"))
    assert reasons.PASS_EXPIRED in prompts.check_complete()
    monkeypatch.delitem(prompts.NEXT_FOR_REASON, reasons.PASSBACK)
    assert reasons.PASSBACK in prompts.check_complete()


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (["pass_revoked"], "call the community office at the number on the notice"),
        (["temperature_unavailable"], "move closer to the sensor"),
        (["fever", "pass_expired"], "step aside and wait; staff have been notified"),
    ],
)
def test_the_next_step_is_the_one_for_the_reason_the_person_can_act_on(found, words):
    assert words in prompts.next_for_decision(False, found)["en"]


def test_zh_next_steps_say_it_in_plain_words():
    assert prompts.next_for_reason(reasons.PASS_REVOKED)["zh"].startswith("请联系社区工作人员")
    assert prompts.next_for_reason(reasons.TEMPERATURE_UNAVAILABLE)["zh"].startswith(
        "请摘下帽子，靠近测温区"
    )


def test_every_prompt_has_a_key_the_voice_and_the_screen_share():
    for key in prompts.all_keys():
        assert prompts.texts_for_key(prompts.key_for(prompts.texts_for_key(key)) or "") == (
            prompts.texts_for_key(key)
        )
    assert prompts.key_for({"en": "not a prompt"}) is None
    spoken = prompts.spoken(prompts.for_reason("fever"), prompts.next_for_reason("fever"), "zh")
    assert spoken == "体温异常。请到一旁等候，已通知工作人员"
