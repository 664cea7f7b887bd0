"""Base64 bodies (RFC 2045 §6.8) in lines of 76 characters."""

from __future__ import annotations

import binascii

from app.mail.limits import MAX_BASE64_LINE


def encode_base64(data: bytes) -> bytes:
    """Base64 of data, CRLF between lines of at most 76 characters, no final line break."""
    encoded = binascii.b2a_base64(data, newline=False)
    if len(encoded) <= MAX_BASE64_LINE:
        return encoded
    step = MAX_BASE64_LINE
    return b"\r\n".join([encoded[i : i + step] for i in range(0, len(encoded), step)])
