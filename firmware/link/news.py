"""What paho's network thread tells the link thread, as named types (posted to one queue).

paho calls back while holding its own locks; the callbacks only wrap what they saw in one of
these and put it on the queue, and the link thread applies a whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wake:
    """Something was appended to the outbox: look for rows to send."""


@dataclass(frozen=True)
class Connack:
    """The broker answered a CONNECT on connection `generation`."""

    generation: int
    code: int
    name: str


@dataclass(frozen=True)
class Down:
    """Connection `generation` was lost or closed."""

    generation: int
    code: int
    name: str


@dataclass(frozen=True)
class Puback:
    """The broker acknowledged message `mid` of connection `generation` (MQTT 5: with a code)."""

    generation: int
    mid: int
    code: int
    name: str


@dataclass(frozen=True)
class ServerAck:
    """The community server has committed every record of `stream` up to `through_seq`."""

    stream: str
    through_seq: int


@dataclass(frozen=True)
class Suback:
    """The broker's answer to SUBSCRIBE `mid` of connection `generation`: a code per filter."""

    generation: int
    mid: int
    codes: tuple[tuple[int, str], ...]


News = Wake | Connack | Down | Puback | ServerAck | Suback
