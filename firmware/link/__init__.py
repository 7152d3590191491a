"""The MQTT link: settings, back-off, the connection, and the outbox sender."""

from firmware.link.connection import MqttLink
from firmware.link.settings import MqttSettings, TlsSettings

__all__ = ["MqttLink", "MqttSettings", "TlsSettings"]
