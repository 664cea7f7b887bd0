"""MIME parts and multipart bodies (RFC 2046 §5.1)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.mail.headers import with_parameters
from app.mail.limits import MAX_BOUNDARY

# "=_" cannot occur in quoted-printable (an "=" is followed by hex or CRLF) nor in base64 (an
# "=" only pads the end), so collisions are near impossible; we still check every part.
BOUNDARY_PREFIX = "=_qm"
MAX_BOUNDARY_TRIES = 16


@dataclass(frozen=True, slots=True)
class Part:
    """A body part: its header lines (each ending in CRLF) and its encoded body."""

    headers: str
    body: bytes

    def render(self) -> bytes:
        return self.headers.encode("utf-8") + b"\r\n" + self.body


def _random_token() -> str:
    return secrets.token_hex(12)


def choose_boundary(parts: Sequence[bytes], token: Callable[[], str] = _random_token) -> str:
    """A boundary of ≤ 70 characters that occurs in none of parts (RFC 2046 §5.1.1)."""
    for _ in range(MAX_BOUNDARY_TRIES):
        boundary = (BOUNDARY_PREFIX + token())[:MAX_BOUNDARY]
        marker = boundary.encode("ascii")
        if not any(marker in part for part in parts):
            return boundary
    raise RuntimeError("could not find a multipart boundary absent from every part")


def multipart(subtype: str, parts: Sequence[Part]) -> Part:
    """A multipart/subtype part holding parts, with no preamble and no epilogue."""
    rendered = [part.render() for part in parts]
    boundary = choose_boundary(rendered).encode("ascii")
    # RFC 2046 §5.1.1: the CRLF before "--boundary" belongs to the delimiter, not the part.
    delimiter = b"\r\n--" + boundary + b"\r\n"
    body = b"--" + boundary + b"\r\n" + delimiter.join(rendered) + b"\r\n--" + boundary + b"--"
    params = [("boundary", boundary.decode("ascii"))]
    return Part(with_parameters("Content-Type", f"multipart/{subtype}", params), body)
