"""Body temperature and the stable-reading window: the table in temperature_cases.py, on CPython.

The same cases run under MicroPython in test_core_under_micropython.py.
"""

from collections.abc import Callable
from typing import Any

import pytest
import temperature_cases


@pytest.mark.parametrize("case", temperature_cases.TABLE.cases, ids=str)
def test_temperature_rule(case: Any, run_case: Callable[[Any], None]) -> None:
    run_case(case)
