"""Runs case tables without pytest and reports every case as one line of JSON on stdout.

    micropython mpy_harness.py decide_cases status_list_cases ...
    python3 mpy_harness.py decide_cases ...        (the same, on CPython)

Each line is `CASE ` + an object: {"table", "case", "outcome": "pass" | "fail" | "skip",
"detail"}; a table that cannot be imported gives {"table", "outcome": "error", "detail"}.
The last line is `CASE {"done": true, "interpreter", "missing", "core"}`: the modules that
cases needed and this interpreter lacks, and the file the core was imported from. The exit
code is 0 only when nothing failed.
"""

import json
import sys

PREFIX = "CASE "


def emit(record):
    print(PREFIX + json.dumps(record))


def describe(exc):
    """The exception and the innermost lines of its traceback, on either interpreter."""
    if hasattr(sys, "print_exception"):  # MicroPython
        import io

        buffer = io.StringIO()
        sys.print_exception(exc, buffer)
        lines = buffer.getvalue().strip().split("\n")
    else:
        import traceback

        lines = "".join(traceback.format_exception(exc)).strip().split("\n")
    return "\n".join(lines[-6:])


def run_table(module_name, missing_seen):
    """Run every case of one table module; returns the number of failures."""
    try:
        module = __import__(module_name)
        table = module.TABLE
    except Exception as exc:  # an import that fails here is the finding, not a crash
        emit({"table": module_name, "outcome": "error", "detail": describe(exc)})
        return 1
    failures = 0
    for case in table.cases:
        record = {"table": table.name, "case": case.name}
        missing = case.missing()
        if missing:
            for name in missing:
                if name not in missing_seen:
                    missing_seen.append(name)
            record["outcome"] = "skip"
            record["detail"] = "needs module " + ", ".join(missing) + ", which is missing here"
        else:
            try:
                case.run()
                record["outcome"] = "pass"
            except Exception as exc:
                failures += 1
                record["outcome"] = "fail"
                record["detail"] = describe(exc)
        emit(record)
    return failures


def main(modules):
    here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
    if here not in sys.path:
        sys.path.insert(0, here)
    missing_seen = []  # type: list[str]
    failures = 0
    for name in modules:
        failures += run_table(name, missing_seen)
    core = sys.modules.get("firmware.core")
    emit(
        {
            "done": True,
            "interpreter": sys.implementation.name,
            "missing": missing_seen,
            "core": getattr(core, "__file__", None),
        }
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
