"""gatekiosk: firmware of an unattended community gate kiosk."""

__version__ = "0.1.0"
