"""The runner that starts MicroPython: limits hold, the folder is read-only, exits are told."""

from pathlib import Path

import pytest

from host_sim import micropython_runner

_unavailable = micropython_runner.unavailable_reason()
pytestmark = pytest.mark.skipif(
    _unavailable is not None, reason="no MicroPython interpreter: " + str(_unavailable)
)


def script(folder: Path, text: str) -> str:
    (folder / "script.py").write_text(text)
    return "script.py"


def test_it_is_micropython_that_runs_with_the_arguments_given(tmp_path: Path) -> None:
    name = script(tmp_path, "import sys\nprint(sys.implementation.name, sys.argv[1:])\n")
    result = micropython_runner.run_file(name, tmp_path, ("a", "b"))
    assert result.stdout == "micropython ['a', 'b']\n"
    assert result.exit_code == 0
    assert result.fuel_used > 0


def test_an_uncaught_exception_exits_1_with_its_traceback(tmp_path: Path) -> None:
    result = micropython_runner.run_file(script(tmp_path, "raise ValueError('boom')\n"), tmp_path)
    assert result.exit_code == 1
    assert "ValueError: boom" in result.stderr


def test_the_folder_is_mounted_read_only(tmp_path: Path) -> None:
    text = (
        "try:\n"
        "    open('/input/written.txt', 'w').write('x')\n"
        "    print('written')\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    result = micropython_runner.run_file(script(tmp_path, text), tmp_path)
    assert result.stdout == "refused\n"
    assert not (tmp_path / "written.txt").exists()


def test_a_runaway_loop_is_stopped_by_its_fuel(tmp_path: Path) -> None:
    name = script(tmp_path, "while True:\n    pass\n")
    with pytest.raises(micropython_runner.MicroPythonTrap, match="stopped"):
        micropython_runner.run_file(name, tmp_path, fuel=50_000_000)


def test_a_runaway_loop_is_stopped_by_the_wall_clock_limit(tmp_path: Path) -> None:
    name = script(tmp_path, "while True:\n    pass\n")
    with pytest.raises(micropython_runner.MicroPythonTrap, match="stopped"):
        micropython_runner.run_file(name, tmp_path, fuel=10**15, timeout_s=0.5)
    after = micropython_runner.run_file(script(tmp_path, "print('next')\n"), tmp_path)
    assert after.stdout == "next\n"


def test_copy_core_brings_the_core_and_nothing_of_the_shell(tmp_path: Path) -> None:
    core = micropython_runner.copy_core(tmp_path)
    names = {p.name for p in core.iterdir()}
    assert names == {p.name for p in micropython_runner.CORE_DIR.glob("*.py")}
    assert {"policy.py", "status_list.py", "temperature.py"} <= names
    package = tmp_path / "firmware"
    assert sorted(package.iterdir()) == [package / "__init__.py", core]
