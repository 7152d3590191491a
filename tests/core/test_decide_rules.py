"""DESIGN 2.3's reason codes at their boundaries: the table in decide_cases.py, on CPython.

The same cases run under MicroPython in test_core_under_micropython.py.
"""

from collections.abc import Callable
from typing import Any

import decide_cases
import pytest


@pytest.mark.parametrize("case", decide_cases.TABLE.cases, ids=str)
def test_decide_rule(case: Any, run_case: Callable[[Any], None]) -> None:
    run_case(case)
