"""The clips `gatekiosk voice build` makes with the real espeak-ng, measured with the real sox:
one for every prompt in every language, audible, never clipped; earcons told apart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from firmware.cli import main as gatekiosk
from firmware.core import prompts, reasons
from firmware.voice import build

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed",
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("voice")
    assert gatekiosk(["voice", "build", "--out", str(out)]) == 0
    return out


def sox_stat(path) -> dict[str, float]:
    done = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stats = {}
    for line in done.stderr.splitlines():
        name, _, value = line.partition(":")
        if re.fullmatch(r"\s*-?[\d.]+\s*", value):
            stats[name.strip()] = float(value)
    return stats


def test_every_prompt_has_audio_in_every_language_that_is_audible_and_not_clipped(clips):
    assert build.missing_clips(clips, prompts.LANGUAGES) == []
    keys = prompts.all_keys()
    assert {f"reason.{r}" for r in reasons.ALL} <= set(keys)
    for key in keys:
        for lang in prompts.LANGUAGES:
            stats = sox_stat(clips / build.clip_name(key, lang))
            where = f"{key} {lang}: {stats}"
            assert stats["Length (seconds)"] > 0.5, where
            assert stats["RMS     amplitude"] > 0.02, where  # not silent
            assert stats["Maximum amplitude"] < 0.99, where  # not clipped
            assert stats["Minimum amplitude"] > -0.99, where


def test_each_clip_says_the_prompt_and_then_the_next_step(clips):
    manifest = json.loads((clips / build.MANIFEST).read_text(encoding="utf-8"))["clips"]
    entry = manifest[build.clip_name("reason.pass_revoked", "en")]
    assert entry["voice"] == "en"
    assert (
        entry["text"]
        == "Pass revoked. Please call the community office at the number on the notice"
    )
    assert manifest[build.clip_name("reason.fever", "zh")]["voice"] == "cmn"
    assert "请到一旁等候" in manifest[build.clip_name("reason.fever", "zh")]["text"]
    assert manifest[build.clip_name("step.idle", "ko")]["voice"] == "ko"


def test_the_earcons_are_distinct_and_clean(clips):
    lengths = set()
    for outcome in ("granted", "denied", "fever"):
        stats = sox_stat(clips / build.earcon_name(outcome))
        assert 0.2 < stats["Length (seconds)"] < 1.5 and stats["Maximum amplitude"] < 0.99
        assert stats["RMS     amplitude"] > 0.2
        lengths.add(round(stats["Length (seconds)"], 2))
    assert len(lengths) == 3
    frequencies = {o: [f for f, _s in build.EARCONS[o] if f] for o in build.EARCONS}
    assert frequencies["granted"] == sorted(frequencies["granted"])  # rises
    assert frequencies["denied"] == sorted(frequencies["denied"], reverse=True)  # falls


def test_a_second_build_redoes_only_what_changed(clips, monkeypatch):
    again = build.build(clips)
    assert again.written == []
    monkeypatch.setitem(prompts.REASONS, reasons.PASSBACK, ("刚用过", "Just used", "방금 사용됨"))
    changed = build.build(clips, ["en"])
    assert changed.written == [build.clip_name("reason.passback", "en")]


def test_a_missing_synthesiser_is_one_line(tmp_path, capsys):
    with pytest.raises(build.VoiceBuildError, match="cannot run"):
        build.build(tmp_path, espeak="/nonexistent/espeak-ng")
    assert gatekiosk(["voice", "build", "--out", str(tmp_path), "--languages", "en,fr"]) == 2
    assert capsys.readouterr().err == "gatekiosk voice: --languages: unknown fr\n"
