"""Strict base64url without padding (RFC 7515 §2), shared by the status list and pass parsing.

`binascii` exists on CPython and MicroPython alike; its decoder skips characters outside the
alphabet, so the alphabet is checked here first: a forged token must not decode "leniently".
"""

import binascii

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def is_b64url(text: str) -> bool:
    """True when `text` is non-empty, unpadded base64url of a whole number of bytes."""
    if not text or len(text) % 4 == 1:
        return False
    return all(ch in _ALPHABET for ch in text)


def decode(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything else."""
    if not is_b64url(text):
        raise ValueError("not base64url")
    std = text.replace("-", "+").replace("_", "/")
    std += "=" * (-len(std) % 4)
    data = binascii.a2b_base64(std)
    # A non-zero tail in the last character means a second text decodes to the same bytes.
    if encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url."""
    text = binascii.b2a_base64(data).decode().strip()
    return text.replace("+", "-").replace("/", "_").rstrip("=")
