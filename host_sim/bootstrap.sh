#!/bin/sh
# Prepares a fresh Debian/Raspberry Pi OS machine to run the simulator and the test suite:
# the Debian packages the suite needs (installed when root, otherwise named and refused) and a
# Python virtual environment in .venv with the project and its development tools.
set -eu

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# chromium, fonts-noto-cjk: the screen tests (headless, Debian's browser); espeak-ng, sox,
# alsa-utils: the voice (synthesis, measuring the clips, aplay).
# shellcheck, systemd (systemd-analyze), librsvg2-bin: the install script, unit and wiring
# diagram checks.
DEB_PACKAGES="mosquitto libzbar0 chromium fonts-noto-cjk espeak-ng sox alsa-utils shellcheck systemd librsvg2-bin"

missing=""
for pkg in $DEB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "bootstrap: missing Debian packages:$missing (run: sudo apt-get install$missing)" >&2
        exit 1
    fi
fi

stamp="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing Python packages into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -e ".[dev]"
    touch "$stamp"
fi
