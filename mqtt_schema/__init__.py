"""The JSON Schemas of every MQTT payload (DESIGN 2.4), shipped as package data so that an
installed copy finds them as well as a checkout does."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
