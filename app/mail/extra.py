"""A caller's extra header fields: checked names, unstructured text or addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from app.mail.addresses import (
    Address,
    AddressLike,
    address_field,
    address_list,
    check_addr_spec,
    is_addr_spec,
    normalise_display_name,
)
from app.mail.checks import refuse_controls, require_str
from app.mail.fold import HeaderFolder
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
# RFC 5322 §3.2.2: in a structured field a run of blanks means one space, and those at either
# end of the value are not part of it.
_BLANK_RUN = re.compile(r"[ \t]+")
# RFC 5322 §3.4 name-addr, one mailbox given as text: `display name <addr-spec>`. The name is
# a quoted-string (RFC 5322 §3.2.4, quoted-pairs allowed) or plain words: atext, "." and
# spaces, so that no special can split it into something else.
_NAME_ADDR = re.compile(
    r'(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<plain>[A-Za-z0-9!#$%&\'*+\-/=?^_`{|}~. ]*?))'
    r" ?<(?P<addr>[^<>]*)>"
)
_QUOTED_PAIR = re.compile(r"\\(.)")


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
    """An unstructured field, encoded where needed (RFC 2047), or a structured one as it is."""
    field = f"header {name}"
    text = refuse_controls(field, require_str(field, value))
    if name.lower() in STRUCTURED_FIELDS:
        return _structured_field(name, field, text)
    return unstructured(name, text, MAX_LINE - len(name) - 2 - MAX_RAW_SPACE)


def _structured_field(name: str, field: str, text: str) -> str:
    """A structured field such as In-Reply-To or References, written raw and folded at blanks.

    RFC 2047 §5 allows no encoded-word in a msg-id or an addr-spec, so none is ever written:
    blanks at the ends are dropped and each run of blanks becomes one space (RFC 5322 §3.2.2
    gives them no other meaning there), and a value that still could not go as it is (non-ASCII
    text, "=?" which readers take for an encoded-word, a word too long for a 998-octet line,
    RFC 5322 §2.1.1) is refused.
    """
    words = _BLANK_RUN.sub(" ", text).strip(" ").split(" ")
    if words == [""]:
        raise ValueError(f"{field} is structured and must not be empty")
    if not text.isascii():
        hint = ": give addresses as (name, address) pairs" if name.lower() in ADDRESS_FIELDS else ""
        raise ValueError(f"{field} is structured and must be plain ASCII{hint}: {text!r}")
    if "=?" in text:
        raise ValueError(
            f'{field} is structured and must not contain "=?", which reads as encoded text: '
            f"{text!r}"
        )
    longest = MAX_LINE - len(name) - 2  # a word alone on the field's first line: "Name: word"
    if max(map(len, words)) > longest:
        raise ValueError(f"{field} has a word too long for one line ({longest} characters)")
    if name.lower() in ADDRESS_FIELDS:
        return address_field(name, [_name_addr(field, " ".join(words))])
    folder = HeaderFolder(name)
    for word in words:
        folder.add(" ", word)
    return folder.text()


def _name_addr(field: str, text: str) -> Address:
    """One mailbox given as `display name <addr-spec>` text (RFC 5322 §3.4), else ValueError.

    It is then written as the To and Cc fields are, the display name quoted where needed.
    """
    match = _NAME_ADDR.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{field} must be an address or one 'name <address>'; give several as a list of "
            f"addresses or (name, address) pairs: {text!r}"
        )
    quoted = match.group("quoted")
    display_name = match.group("plain") if quoted is None else _QUOTED_PAIR.sub(r"\1", quoted)
    return Address(normalise_display_name(display_name), check_addr_spec(field, match["addr"]))


def extra_field(name: str, value: object) -> str:
    """One extra field: addresses for Reply-To and its kin, otherwise text (RFC 5322 §3.6.8)."""
    bare = isinstance(value, str)
    if name.lower() in ADDRESS_FIELDS and (not bare or is_addr_spec(str(value))):
        return address_field(name, address_list(f"header {name}", value))
    return _text_field(name, value)


def extra_headers(headers: ExtraHeaders | None) -> list[str]:
    """The caller's extra fields, in the order given."""
    return [extra_field(check_field_name(name), value) for name, value in _items(headers)]
