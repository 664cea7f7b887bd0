"""Refusing what a caller must never smuggle into a header (CVE-2024-6923, RFC 5322 §2.2)."""

from __future__ import annotations

import re

# RFC 5322 §2.2: a header field is one logical line; CR or LF would end it early (header injection)
# and NUL is not allowed anywhere in a message (RFC 5322 §3.5 obs-body is the only place).
_LINE_BREAKERS = re.compile(r"[\r\n\x00]")
# RFC 5322 §3.2.5: unstructured text is VCHAR and WSP; the C0 controls (other than TAB) and DEL
# are obsolete (obs-utext) and are refused rather than generated.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A lone surrogate is no character at all and has no UTF-8 form (RFC 3629 §3).
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def refuse_line_breaks(field: str, value: str) -> str:
    """Return value, or raise ValueError naming field when it holds CR, LF or NUL."""
    if _LINE_BREAKERS.search(value):
        raise ValueError(f"{field} must not contain CR, LF or NUL: {value!r}")
    return value


def refuse_surrogates(field: str, value: str) -> str:
    """Return value, or raise ValueError naming field when it holds a lone surrogate."""
    if not value.isascii() and _SURROGATES.search(value):
        raise ValueError(f"{field} must not contain lone surrogates: {value!r}")
    return value


def refuse_controls(field: str, value: str) -> str:
    """Return value, or raise ValueError naming field when it holds a control character."""
    refuse_line_breaks(field, value)
    if _CONTROLS.search(value):
        raise ValueError(f"{field} must not contain control characters: {value!r}")
    return refuse_surrogates(field, value)


def require_str(field: str, value: object) -> str:
    """Return value when it is a str; otherwise raise TypeError naming field."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    return value
