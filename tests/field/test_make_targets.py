"""`make deploy` and `make release`'s refusals, with scp and ssh replaced by recorders."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name in ("scp", "ssh"):
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls"\n')
        stub.chmod(0o755)
    env = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}")
    # The stamp is up to date when the suite runs, so only the asked target runs.
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_deploy_copies_the_bundle_and_runs_the_update_on_the_gate(tmp_path):
    bundle = tmp_path / "gatekiosk-0.2.0.tar"
    bundle.write_bytes(b"bundle")
    done = make(tmp_path, "deploy", "HOST=admin@gate-0042.local", f"BUNDLE={bundle}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().splitlines() == [
        f"scp {bundle} admin@gate-0042.local:/tmp/gatekiosk-0.2.0.tar",
        "ssh -t admin@gate-0042.local sudo /opt/gatekiosk/current/bin/gatekiosk update "
        "/tmp/gatekiosk-0.2.0.tar",
    ]


def test_deploy_without_a_host_or_a_bundle_says_so_and_copies_nothing(tmp_path):
    done = make(tmp_path, "deploy", f"BUNDLE={tmp_path / 'x.tar'}")
    assert done.returncode != 0 and "give HOST=user@pi" in done.stderr
    done = make(tmp_path, "deploy", "HOST=a@b", f"BUNDLE={tmp_path / 'missing.tar'}")
    assert done.returncode != 0 and "no bundle" in done.stderr
    assert not (tmp_path / "calls").exists()


def test_release_without_a_signing_key_says_so(tmp_path):
    done = make(tmp_path, "release", f"RELEASE_KEY={tmp_path / 'none.jwks'}")
    assert done.returncode != 0 and "no signing key" in done.stderr
