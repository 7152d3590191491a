"""Is the system clock synchronised? The Pi has no RTC: after a power cut it boots with the time
it last saved until NTP answers, so every event says whether its time can be trusted.

The kernel knows: `adjtimex(2)` reports TIME_ERROR / STA_UNSYNC until a time daemon has
disciplined the clock. systemd-timesyncd also leaves /run/systemd/timesync/synchronized once it
has synchronised. Either answer is used; anything unreadable counts as "not synchronised".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

TIMESYNCD_FLAG = "/run/systemd/timesync/synchronized"
TIME_ERROR = 5  # adjtimex return value: clock not synchronised
STA_UNSYNC = 0x0040  # struct timex status bit: clock unsynchronised


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux); trailing padding is 11 ints.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def kernel_synced() -> bool | None:
    """The kernel's view (None when it cannot be asked, e.g. not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()  # modes = 0: read only
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError) as exc:
        log.debug("adjtimex unavailable: %s", exc)
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not (tx.status & STA_UNSYNC)


def system_clock_synced(flag_path: str = TIMESYNCD_FLAG) -> bool:
    """True when the kernel or systemd-timesyncd says the clock is synchronised."""
    if os.path.exists(flag_path):
        return True
    return bool(kernel_synced())
