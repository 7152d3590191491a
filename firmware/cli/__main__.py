"""`python -m firmware.cli`: the same entry point as the `gatekiosk` script."""

import sys

from firmware.cli import main

sys.exit(main())
