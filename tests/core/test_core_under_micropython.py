"""The core's case tables under a real MicroPython interpreter (1.27 for WASI, under wasmtime).

The core and the table modules are copied into a folder the interpreter sees read-only;
`mpy_harness.py` runs every case there once per test session and reports each one. Every
case must pass there as here, except those whose own code needs a module the interpreter
lacks: they are skipped, each with its reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import decide_cases
import pytest
import status_list_cases
import temperature_cases

from host_sim import micropython_runner

HERE = Path(__file__).resolve().parent
TABLES = (decide_cases, status_list_cases, temperature_cases)
CASES = [case for module in TABLES for case in module.TABLE.cases]
SUPPORT = ("case_table.py", "mpy_harness.py")

_unavailable = micropython_runner.unavailable_reason()
pytestmark = pytest.mark.skipif(
    _unavailable is not None, reason="no MicroPython interpreter: " + str(_unavailable)
)


class Report:
    """The harness's lines, read back: one record per case, table errors, and the summary."""

    def __init__(self, stdout: str, exit_code: int) -> None:
        self.exit_code = exit_code
        self.records: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.summary: dict[str, Any] | None = None
        for line in stdout.splitlines():
            if not line.startswith("CASE "):
                continue
            record = json.loads(line[len("CASE ") :])
            if record.get("done"):
                self.summary = record
            elif record["outcome"] == "error":
                self.errors.append(record)
            else:
                self.records.append(record)
        self.by_key = {r["table"] + "/" + r["case"]: r for r in self.records}

    def outcomes(self, outcome: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["outcome"] == outcome]

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 or bool(self.errors) or bool(self.outcomes("fail"))


def stage(folder: Path) -> Path:
    """A copy of the core, the tables and the harness: all the interpreter will see."""
    micropython_runner.copy_core(folder)
    for module in TABLES:
        shutil.copyfile(str(module.__file__), folder / Path(str(module.__file__)).name)
    for name in SUPPORT:
        shutil.copyfile(HERE / name, folder / name)
    return folder


def table_names() -> tuple[str, ...]:
    return tuple(module.__name__ for module in TABLES)


def run_micropython(folder: Path) -> Report:
    result = micropython_runner.run_file("mpy_harness.py", folder, table_names())
    return Report(result.stdout + result.stderr, result.exit_code)


def run_cpython(folder: Path) -> Report:
    result = subprocess.run(
        [sys.executable, "-I", str(folder / "mpy_harness.py"), *table_names()],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Report(result.stdout + result.stderr, result.returncode)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Every table case, run once under MicroPython."""
    return run_micropython(stage(tmp_path_factory.mktemp("micropython-core")))


def skip_keys(cases: Iterable[Any], missing: Iterable[str]) -> set[str]:
    lacking = set(missing)
    return {case.key for case in cases if lacking.intersection(case.needs)}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.key)
def test_case_passes_under_micropython(report: Report, case: Any) -> None:
    record = report.by_key.get(case.key)
    assert record is not None, "not run under MicroPython: " + json.dumps(report.errors)
    if record["outcome"] == "skip":
        pytest.skip("MicroPython: " + record["detail"])
    assert record["outcome"] == "pass", record.get("detail")


def test_every_case_ran_except_those_skipped_with_a_reason(report: Report) -> None:
    assert report.summary is not None, "the harness did not finish"
    assert report.summary["interpreter"] == "micropython"
    assert report.summary["core"].startswith(micropython_runner.GUEST_DIR + "/firmware/core/")
    assert report.errors == []
    assert [r["table"] + "/" + r["case"] for r in report.records] == [c.key for c in CASES]
    skipped = report.outcomes("skip")
    assert all(r["detail"] for r in skipped)
    # Only the cases that declared a module this interpreter lacks are skipped, and no more
    # than a few: the tables are for running here.
    expected = skip_keys(CASES, report.summary["missing"])
    assert {r["table"] + "/" + r["case"] for r in skipped} == expected
    assert len(skipped) <= 5
    ran = report.outcomes("pass") + report.outcomes("fail")
    assert len(ran) == len(CASES) - len(skipped)
    assert report.exit_code == 0


# Constructs the core must not use (DESIGN, Part 1). Each is injected into a copy of one
# module: CPython still passes every case, MicroPython must not.
INJECTIONS = [
    pytest.param(
        "temperature.py",
        None,
        "\nimport dataclasses  # CPython only\n",
        "dataclasses",
        id="dataclasses-import",
    ),
    pytest.param(
        "policy.py",
        None,
        "\nfrom typing import Any  # typing at run time\n",
        "typing",
        id="typing-at-run-time",
    ),
    pytest.param(
        "claims.py",
        "    info = parse(claims)\n",
        "    info = parse(claims)\n    gate_id = gate_id.removeprefix('')  # not in MicroPython\n",
        "removeprefix",
        id="str-removeprefix-in-one-function",
    ),
    pytest.param(
        "status_list.py",
        "    per_byte = 8 // bits\n    byte_index",
        "    per_byte = 8 // bits\n    _ = {**{}}  # dict unpacking in a display\n    byte_index",
        "SyntaxError",
        id="dict-unpacking-display",
    ),
]


@pytest.mark.parametrize(("module", "anchor", "injected", "evidence"), INJECTIONS)
def test_a_cpython_only_construct_in_the_core_fails_under_micropython(
    tmp_path: Path, module: str, anchor: str | None, injected: str, evidence: str
) -> None:
    folder = stage(tmp_path)
    target = folder / "firmware" / "core" / module
    source = target.read_text()
    if anchor is None:
        source += injected
    else:
        assert source.count(anchor) == 1, "the injection point moved: " + anchor
        source = source.replace(anchor, injected)
    target.write_text(source)

    # Still valid Python: every case passes on CPython, from the injected copy.
    on_cpython = run_cpython(folder)
    assert on_cpython.summary is not None
    assert on_cpython.summary["core"].startswith(str(folder))
    assert not on_cpython.failed, on_cpython.errors + on_cpython.outcomes("fail")
    assert len(on_cpython.outcomes("pass")) == len(CASES)

    on_micropython = run_micropython(folder)
    assert on_micropython.summary is not None, "the harness did not finish"
    assert on_micropython.failed
    assert on_micropython.exit_code == 1
    details = [r["detail"] for r in on_micropython.errors + on_micropython.outcomes("fail")]
    assert any(evidence in detail for detail in details), details
