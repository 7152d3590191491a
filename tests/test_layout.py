"""The shape of the house: rooms that do not lean on each other in circles, a firmware that
never reaches into the simulator, and a gate that needs no JSON Schema library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules imported by `path` (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            continue  # `if TYPE_CHECKING:` blocks are not run
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _firmware_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in FIRMWARE.rglob("*.py")}


def test_no_firmware_module_imports_the_simulator():
    offenders = {
        name: sorted(i for i in _imports(path, top_level_only=False) if i.startswith("host_sim"))
        for name, path in _firmware_modules().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_firmware_has_no_import_circles():
    modules = _firmware_modules()
    graph = {
        name: {i for i in _imports(path, top_level_only=True) if i in modules and i != name}
        for name, path in modules.items()
    }
    # A package's __init__ importing its own submodules is not a circle of rooms.
    for name in graph:
        graph[name] = {i for i in graph[name] if not i.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_gate_runs_without_the_json_schema_library_or_the_simulator():
    probe = (
        "import sys, pkgutil, importlib, firmware\n"
        "skip = ('firmware.cli.__main__',)\n"
        "for m in pkgutil.walk_packages(firmware.__path__, 'firmware.'):\n"
        "    if m.name not in skip:\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('jsonschema', 'host_sim'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_the_schemas_are_found_through_the_package():
    import mqtt_schema

    assert (mqtt_schema.SCHEMA_DIR / "event.v1.schema.json").is_file()
