"""A caller's extra header fields: checked names, unstructured text or addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from app.mail.addresses import AddressLike, address_field, address_list, is_addr_spec
from app.mail.checks import refuse_controls, require_str
from app.mail.headers import unstructured
from app.mail.limits import MAX_HEADER_LINE, MAX_LINE, MAX_RAW_SPACE

HeaderValue = str | AddressLike | Sequence[AddressLike]
ExtraHeaders = Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]]

# RFC 5322 §3.6.8: field-name := 1*ftext; ftext := %d33-57 / %d59-126 (printable except ":")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# Fields build_message writes itself; a caller's extra header may not replace or repeat them.
STRUCTURAL = frozenset({"date", "from", "to", "cc", "bcc", "subject", "message-id", "mime-version"})
# RFC 5322 §3.6.2-3.6.4, §3.6.6-3.6.7: structured fields, where an encoded-word would be wrong
# (RFC 2047 §5); those holding addresses take them as build_message's other address arguments.
ADDRESS_FIELDS = frozenset({"reply-to", "sender", "resent-from", "resent-to", "resent-cc"})
STRUCTURED_FIELDS = ADDRESS_FIELDS | {"in-reply-to", "references", "resent-message-id"}


def check_field_name(name: object) -> str:
    """Return name when it is a valid field name we allow a caller to add."""
    name = refuse_controls("header name", require_str("header name", name))
    if not _FIELD_NAME.fullmatch(name) or len(name) > MAX_HEADER_LINE - 2:
        raise ValueError(f"header name {name!r} is not a valid field name (RFC 5322 §3.6.8)")
    lowered = name.lower()
    if lowered in STRUCTURAL or lowered.startswith("content-"):
        raise ValueError(f"header name {name!r} is set by build_message and cannot be overridden")
    return name


def _items(headers: ExtraHeaders | None) -> Iterable[tuple[object, object]]:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return headers.items()
    return headers


def _text_field(name: str, value: object) -> str:
    """An unstructured field; a structured one only when plain ASCII, which goes as it is."""
    field = f"header {name}"
    text = refuse_controls(field, require_str(field, value))
    if name.lower() in STRUCTURED_FIELDS and not text.isascii():
        raise ValueError(f"{field} is structured: give addresses as (name, address) pairs")
    return unstructured(name, text, MAX_LINE - len(name) - 2 - MAX_RAW_SPACE)


def extra_field(name: str, value: object) -> str:
    """One extra field: addresses for Reply-To and its kin, otherwise text (RFC 5322 §3.6.8)."""
    bare = isinstance(value, str)
    if name.lower() in ADDRESS_FIELDS and (not bare or is_addr_spec(str(value))):
        return address_field(name, address_list(f"header {name}", value))
    return _text_field(name, value)


def extra_headers(headers: ExtraHeaders | None) -> list[str]:
    """The caller's extra fields, in the order given."""
    return [extra_field(check_field_name(name), value) for name, value in _items(headers)]
