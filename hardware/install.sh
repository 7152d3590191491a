#!/usr/bin/env bash
# Installs gatekiosk on Raspberry Pi OS Bookworm, from this checkout, as a systemd service.
# Idempotent: run it again after `git pull` or after changing [pins] in the config file; it
# only changes what is not yet as it should be. --dry-run prints the changes and makes none.
#
# Usage: sudo hardware/install.sh [--dry-run] [--config FILE]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")

# Paths can be moved (for tests, or an image build in a chroot).
APP_DIR=${GATEKIOSK_APP_DIR:-/opt/gatekiosk}
ETC_DIR=${GATEKIOSK_ETC_DIR:-/etc/gatekiosk}
UNIT_DIR=${GATEKIOSK_UNIT_DIR:-/etc/systemd/system}
SYSTEM_CONF_DIR=${GATEKIOSK_SYSTEM_CONF_DIR:-/etc/systemd/system.conf.d}
BOOT_CONFIG=${GATEKIOSK_BOOT_CONFIG:-}
OS_RELEASE=${GATEKIOSK_OS_RELEASE:-/etc/os-release}
PYTHON=${GATEKIOSK_PYTHON:-python3}

SERVICE=gatekiosk.service
SERVICE_USER=gatekiosk
STATE_DIR=/var/lib/gatekiosk
VENV="$APP_DIR/.venv"
# The unit runs $APP_DIR/current/bin/gatekiosk; `gatekiosk update` repoints `current` at a
# release in $APP_DIR/releases/. The first install points it at $VENV.
CURRENT="$APP_DIR/current"
BOOT_CHECK="$APP_DIR/boot-check.py"
# Pi's hardware watchdog (bcm2835_wdt): at most 15.99 s; on kernels before 6.8 a longer
# RuntimeWatchdogSec leaves it silently unarmed, so stay below.
HW_WATCHDOG_SEC=15
# picamera2 and lgpio come from Raspberry Pi OS (they are built against its libcamera and
# kernel); the venv sees them through --system-site-packages. libzbar0 is pyzbar's library.
APT_PACKAGES=(python3-picamera2 python3-lgpio python3-venv libzbar0 i2c-tools)
# The screen (Chromium alone under the cage compositor, CJK fonts) and the voice (espeak-ng
# synthesises the prompts here, aplay plays them).
APT_PACKAGES+=(cage chromium fonts-noto-cjk espeak-ng alsa-utils)
DEVICE_GROUPS=(gpio i2c video audio)
SCREEN_SERVICE=gatekiosk-screen.service
# The boot page ("out of service" until the firmware serves the screen) and its server, run by
# the system's python3 like boot-check.py.
SCREEN_BOOT_SERVICE=gatekiosk-screen-boot.service
SCREEN_BOOT_DIR="$APP_DIR/screen-boot"
SCREEN_BOOT_SERVER="$APP_DIR/screen-boot.py"
SCREEN_USER=gatekiosk-screen
VOICE_DIR="$APP_DIR/voice"

DRY_RUN=0
CONFIG="$ETC_DIR/gatekiosk.toml"

usage() {
    cat <<EOF
Usage: $0 [--dry-run] [--config FILE]

Installs gatekiosk from $SRC:
  Debian packages, the '$SERVICE_USER' user in groups ${DEVICE_GROUPS[*]},
  a venv in $VENV, config.txt lines for I2C and the pins, and $SERVICE.

  --dry-run      print every change, make none
  --config FILE  the kiosk's config file, read for its [pins] table (default $CONFIG)
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --config)
            [ $# -ge 2 ] || { echo "install.sh: --config needs a file" >&2; exit 2; }
            CONFIG=$2
            shift
            ;;
        --config=*) CONFIG=${1#--config=} ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# Every change to the system goes through `run` (or `write_file`/`append_lines`), so that
# --dry-run can show it instead of doing it.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '    would run: %s\n' "$*"
    else
        printf '    running: %s\n' "$*"
        "$@"
    fi
}

# write_file PATH MODE CONTENT: replace PATH when its content differs.
write_file() {
    local path=$1 mode=$2 content=$3
    if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
        note "$path is up to date"
        return
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '    would write %s (mode %s):\n' "$path" "$mode"
        printf '%s\n' "$content" | sed 's/^/      | /'
    else
        printf '    writing %s\n' "$path"
        printf '%s\n' "$content" >"$path.tmp"
        chmod "$mode" "$path.tmp"
        mv -f "$path.tmp" "$path"
    fi
}

# append_lines FILE LINE...: add the lines FILE does not have yet, once, under an [all] filter.
append_lines() {
    local file=$1 line
    shift
    local missing=()
    for line in "$@"; do
        grep -qxF -- "$line" "$file" || missing+=("$line")
    done
    if [ ${#missing[@]} = 0 ]; then
        note "$file already has every line"
        return 1
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '    would append to %s:\n' "$file"
        printf '      | %s\n' "[all]" "${missing[@]}"
    else
        printf '    appending %d line(s) to %s\n' "${#missing[@]}" "$file"
        # [all] ends any model filter ([pi4], [cm4]...) the file may finish with.
        printf '\n# gatekiosk (hardware/install.sh)\n[all]\n' >>"$file"
        printf '%s\n' "${missing[@]}" >>"$file"
    fi
    return 0
}

# -- what to install ---------------------------------------------------------------------------

step "Checking the system"
codename=$(sed -n 's/^VERSION_CODENAME="\{0,1\}\([a-z]*\)"\{0,1\}$/\1/p' "$OS_RELEASE" 2>/dev/null) || true
if [ "$codename" != bookworm ]; then
    note "warning: made for Raspberry Pi OS Bookworm, this is '$codename'"
fi
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo), or with --dry-run to see what it would do" >&2
    exit 1
fi
[ "$DRY_RUN" = 1 ] && note "dry run: nothing will be changed"

# The pin map decides the config.txt lines and the relay pin the service drops on stop. It is
# checked with the firmware's own rules (firmware/hw/pins.py needs only the standard library).
if [ -f "$CONFIG" ]; then
    note "pin map from $CONFIG"
else
    note "no $CONFIG yet: default pin map (run this again after 'gatekiosk provision')"
fi
pin_facts=$(PYTHONPATH="$SRC" "$PYTHON" - "$CONFIG" <<'PY'
import sys, tomllib
from pathlib import Path
from firmware.hw.pins import PinMap, PinMapError
from firmware.screen.settings import ScreenSettings
from firmware.voice.settings import VoiceSettings

path = Path(sys.argv[1])
try:
    doc = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    pins = PinMap(**doc.get("pins", {})).validate()
    screen = ScreenSettings(**doc.get("screen", {})).validate()
    voice = VoiceSettings(**doc.get("voice", {})).validate()
except (OSError, ValueError, TypeError) as exc:
    sys.exit(f"install.sh: {path}: {exc}")
print(f"RELAY_PIN={pins.relay}")
print(f"RELAY_OFF={pins.relay_off_drive}")
for line in pins.boot_gpio_lines():
    print(f"BOOT_LINE={line}")
print(f"SCREEN_HOST={'127.0.0.1' if screen.bind in ('0.0.0.0', '::') else screen.bind}")
print(f"SCREEN_PORT={screen.port}")
print(f"SCREEN_BOOT_PORT={screen.boot_port}")
print(f"SCREEN_LANGUAGE={screen.primary_language}")
print(f"VOICE_LANGUAGES={','.join(voice.languages)}")
if "audio_dir" in doc.get("voice", {}):
    print(f"VOICE_DIR={voice.audio_dir}")
PY
)
RELAY_PIN=""
RELAY_OFF=""
BOOT_LINES=()
SCREEN_HOST=127.0.0.1
SCREEN_PORT=""
SCREEN_BOOT_PORT=""
SCREEN_LANGUAGE=""
VOICE_LANGUAGES=""
while IFS='=' read -r key value; do
    case $key in
        RELAY_PIN) RELAY_PIN=$value ;;
        RELAY_OFF) RELAY_OFF=$value ;;
        BOOT_LINE) BOOT_LINES+=("$value") ;;
        SCREEN_HOST) SCREEN_HOST=$value ;;
        SCREEN_PORT) SCREEN_PORT=$value ;;
        SCREEN_BOOT_PORT) SCREEN_BOOT_PORT=$value ;;
        SCREEN_LANGUAGE) SCREEN_LANGUAGE=$value ;;
        VOICE_LANGUAGES) VOICE_LANGUAGES=$value ;;
        VOICE_DIR) VOICE_DIR=$value ;;
    esac
done <<<"$pin_facts"
note "relay on GPIO$RELAY_PIN, off = $RELAY_OFF"

# -- packages ----------------------------------------------------------------------------------

step "Debian packages: ${APT_PACKAGES[*]}"
missing_packages=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing_packages+=("$pkg")
done
if [ ${#missing_packages[@]} = 0 ]; then
    note "all installed"
else
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing_packages[@]}"
fi

# -- user --------------------------------------------------------------------------------------

step "Service user '$SERVICE_USER' in groups ${DEVICE_GROUPS[*]}"
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    note "user exists"
    current_groups=" $(id -nG "$SERVICE_USER") "
else
    run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin "$SERVICE_USER"
    current_groups=" "
fi
for group in "${DEVICE_GROUPS[@]}"; do
    if ! getent group "$group" >/dev/null; then
        note "warning: no group '$group' on this system (not Raspberry Pi OS?)"
    elif [[ $current_groups != *" $group "* ]]; then
        run usermod -a -G "$group" "$SERVICE_USER"
    fi
done

# -- python ------------------------------------------------------------------------------------

step "Python environment $VENV"
if [ -x "$VENV/bin/python" ]; then
    if ! grep -qx "include-system-site-packages = true" "$VENV/pyvenv.cfg"; then
        echo "install.sh: $VENV cannot see picamera2 (made without --system-site-packages);" \
            "remove it and run this again" >&2
        exit 1
    fi
    note "venv exists"
else
    run install -d -m 0755 "$APP_DIR"
    # --system-site-packages: picamera2 and lgpio exist only as Debian packages.
    run "$PYTHON" -m venv --system-site-packages "$VENV"
fi
run "$VENV/bin/pip" install --quiet --upgrade "$SRC"
if [ -L "$CURRENT" ] || [ -e "$CURRENT" ]; then
    note "$CURRENT -> $(readlink "$CURRENT") (kept: releases are switched by gatekiosk update)"
else
    run ln -s "$VENV" "$CURRENT"
fi
# Counts starts of a release on probation and rolls back (the unit's ExecStartPre). It runs
# with the system's python3, so a release that cannot even start still gets rolled back.
if cmp -s "$SRC/firmware/update/layout.py" "$BOOT_CHECK"; then
    note "$BOOT_CHECK is up to date"
else
    run install -m 0644 "$SRC/firmware/update/layout.py" "$BOOT_CHECK"
fi

# -- screen and voice --------------------------------------------------------------------------

step "Voice: prompts synthesised into $VOICE_DIR ($VOICE_LANGUAGES)"
# Only the clips whose text changed are made again (the folder's manifest.json says).
run "$VENV/bin/python" -m firmware.cli voice build --out "$VOICE_DIR" --languages "$VOICE_LANGUAGES"

step "Screen boot page in $SCREEN_BOOT_DIR (out of service until the firmware answers)"
# Only the files that changed are written again.
run "$VENV/bin/python" -m firmware.screen.boot_page --out "$SCREEN_BOOT_DIR" \
    --screen-url "http://$SCREEN_HOST:$SCREEN_PORT/" --primary-language "$SCREEN_LANGUAGE"
if cmp -s "$SRC/firmware/screen/boot.py" "$SCREEN_BOOT_SERVER"; then
    note "$SCREEN_BOOT_SERVER is up to date"
else
    run install -m 0644 "$SRC/firmware/screen/boot.py" "$SCREEN_BOOT_SERVER"
fi

step "Screen user '$SCREEN_USER' (runs the kiosk browser and the boot page, nothing else)"
if id -u "$SCREEN_USER" >/dev/null 2>&1; then
    note "user exists"
else
    run useradd --system --user-group --create-home --home-dir "/var/lib/$SCREEN_USER" \
        --shell /usr/sbin/nologin "$SCREEN_USER"
fi

# -- configuration -----------------------------------------------------------------------------

step "Configuration in $ETC_DIR"
if [ -d "$ETC_DIR" ]; then
    note "$ETC_DIR exists"
else
    run install -d -m 0750 "$ETC_DIR"
    run chgrp "$SERVICE_USER" "$ETC_DIR"
fi
write_file "$ETC_DIR/relay.env" 0644 "# Written by hardware/install.sh from the [pins] table; read by $SERVICE.
GATEKIOSK_RELAY_PIN=$RELAY_PIN
GATEKIOSK_RELAY_OFF=$RELAY_OFF"
write_file "$ETC_DIR/screen.env" 0644 "# Written by hardware/install.sh from the [screen] table; read by $SCREEN_SERVICE.
GATEKIOSK_SCREEN_HOST=$SCREEN_HOST
GATEKIOSK_SCREEN_PORT=$SCREEN_PORT
GATEKIOSK_SCREEN_BOOT_PORT=$SCREEN_BOOT_PORT"
[ -f "$CONFIG" ] || note "write $CONFIG next: gatekiosk provision (see README)"

# -- boot configuration ------------------------------------------------------------------------

if [ -z "$BOOT_CONFIG" ]; then
    if [ -f /boot/firmware/config.txt ]; then
        BOOT_CONFIG=/boot/firmware/config.txt # Bookworm
    else
        BOOT_CONFIG=/boot/config.txt
    fi
fi
step "Boot configuration $BOOT_CONFIG"
boot_lines=()
while IFS= read -r line; do
    case $line in "" | "#"* | gpio=*) continue ;; esac
    boot_lines+=("$line")
done <"$HERE/config.txt.snippet"
boot_lines+=("${BOOT_LINES[@]}")
reboot_needed=0
if [ ! -f "$BOOT_CONFIG" ]; then
    note "warning: $BOOT_CONFIG not found: add these lines to the boot configuration by hand:"
    printf '      | %s\n' "${boot_lines[@]}"
elif append_lines "$BOOT_CONFIG" "${boot_lines[@]}"; then
    reboot_needed=1
fi

# -- services ----------------------------------------------------------------------------------

step "Hardware watchdog: systemd arms it ($SYSTEM_CONF_DIR)"
[ -d "$SYSTEM_CONF_DIR" ] || run install -d -m 0755 "$SYSTEM_CONF_DIR"
watchdog_conf="$SYSTEM_CONF_DIR/gatekiosk-watchdog.conf"
if [ -f "$watchdog_conf" ] && grep -qx "RuntimeWatchdogSec=$HW_WATCHDOG_SEC" "$watchdog_conf"; then
    note "$watchdog_conf is up to date"
else
    write_file "$watchdog_conf" 0644 "# Written by hardware/install.sh. systemd feeds the Pi's watchdog; if the kernel or
# systemd itself hangs for ${HW_WATCHDOG_SEC} s the board resets. BCM2835 maximum: 15.99 s.
[Manager]
RuntimeWatchdogSec=$HW_WATCHDOG_SEC
RebootWatchdogSec=2min"
    # The manager reads system.conf.d only when it starts (or re-executes).
    run systemctl daemon-reexec
fi

# install_unit UNIT: install (when changed), enable, and restart it once there is a config.
install_unit() {
    local unit=$1
    step "systemd unit $UNIT_DIR/$unit"
    if cmp -s "$HERE/$unit" "$UNIT_DIR/$unit"; then
        note "unit is up to date"
    else
        run install -m 0644 "$HERE/$unit" "$UNIT_DIR/$unit"
        run systemctl daemon-reload
    fi
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
        note "enabled"
    else
        run systemctl enable "$unit"
    fi
    if [ -f "$CONFIG" ]; then
        run systemctl restart "$unit"
    else
        note "not started: no $CONFIG yet"
    fi
}
install_unit "$SERVICE"
# The screen: Chromium in kiosk mode under cage on tty1, opening the boot page, which hands
# over to the page the kiosk serves as soon as it answers.
install_unit "$SCREEN_BOOT_SERVICE"
install_unit "$SCREEN_SERVICE"

step "Done"
if [ "$reboot_needed" = 1 ]; then
    note "reboot to apply the boot configuration (I2C, pin levels at power-on)"
fi
