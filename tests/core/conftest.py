"""The core's case tables are plain modules in this folder (shared with the MicroPython
harness); make them importable, with pytest's assertion messages."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

pytest.register_assert_rewrite(
    "case_table", "decide_cases", "status_list_cases", "temperature_cases"
)


def run_on_cpython(case: Any) -> None:
    """Run one table case here; a case needing a module CPython lacks is skipped, saying so."""
    missing = case.missing()
    if missing:
        pytest.skip("needs module " + ", ".join(missing))
    case.run()


@pytest.fixture
def run_case() -> Callable[[Any], None]:
    """The function that runs one table case on CPython."""
    return run_on_cpython
