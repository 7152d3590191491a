"""Suite-wide set-up: simulated GPIO everywhere, no test ever touches real hardware."""

import os

# gpiozero picks its pin factory from this variable on first use: only MockFactory pins here.
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
