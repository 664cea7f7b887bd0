"""Addresses: checking addr-specs (RFC 5322 §3.4.1, RFC 6532) and writing address fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.mail.checks import refuse_controls, require_str
from app.mail.fold import HeaderFolder
from app.mail.limits import MAX_ADDRESS

AddressLike = str | tuple[str, str]

# RFC 5322 §3.2.3 atext, widened by RFC 6532 §3.2 to any non-ASCII character (C1 controls aside).
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a0-\U0010ffff]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
# RFC 5322 §3.2.4 quoted-string without folding: qtext or quoted-pair, and plain spaces.
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u00a0-\U0010ffff]|\\[\x20-\x7e])*"'
_DOMAIN_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]*\]"  # RFC 5322 §3.4.1 dtext
_ADDR_SPEC = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|{_DOMAIN_LITERAL})")
# A display name written as atoms: RFC 5322 §3.2.5 phrase of single-space-separated atoms.
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_QUOTABLE_NAME = re.compile(r"[\x20-\x7e]+")
_QUOTE_SPECIALS = re.compile(r'(["\\])')
_BLANK_RUN = re.compile(r"[ \t]+")
MAX_QUOTED_NAME = 60  # our choice: a longer quoted name could not fold, so it is encoded instead
MAX_ATOM = MAX_QUOTED_NAME  # likewise for one word of a name written as atoms


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: an optional display name and an addr-spec such as "ada@example.org"."""

    display_name: str
    addr_spec: str

    @property
    def domain(self) -> str:
        return self.addr_spec.rpartition("@")[2]


def check_addr_spec(field: str, value: object) -> str:
    """Return value when it is an addr-spec we can send, else raise ValueError naming field."""
    addr = refuse_controls(field, require_str(field, value))
    if len(addr.encode("utf-8")) > MAX_ADDRESS or not _ADDR_SPEC.fullmatch(addr):
        raise ValueError(f"{field} is not an address like user@example.org: {addr!r}")
    return addr


def normalise_display_name(name: str) -> str:
    """name with each run of blanks as one space and none at the ends.

    RFC 5322 §3.2.2: in a phrase, a run of whitespace means a single space, and parsers read
    display names so (Python's collapses blanks even inside encoded-words), so we send them so.
    """
    return _BLANK_RUN.sub(" ", name).strip(" ")


def is_addr_spec(value: str) -> bool:
    """Whether value is a bare addr-spec such as "ada@example.org"."""
    return bool(_ADDR_SPEC.fullmatch(value))


def parse_address(field: str, value: object) -> Address:
    """An Address from "addr@domain" or (display name, "addr@domain")."""
    if isinstance(value, tuple) and len(value) == 2:
        name = require_str(f"{field} display name", value[0])
        name = refuse_controls(f"{field} display name", name)
        return Address(normalise_display_name(name), check_addr_spec(field, value[1]))
    return Address("", check_addr_spec(field, value))


def address_list(field: str, value: object) -> list[Address]:
    """One address or a list of them; a 2-tuple of str is one (display name, address)."""
    if isinstance(value, str) or (isinstance(value, tuple) and len(value) == 2):
        return [parse_address(field, value)]
    if not isinstance(value, Iterable):
        raise TypeError(f"{field} must be an address or a list of addresses")
    return [parse_address(f"{field}[{index}]", item) for index, item in enumerate(value)]


def address_is_ascii(address: str) -> bool:
    """Whether an addr-spec can travel without SMTPUTF8 (RFC 6531 §3.2)."""
    return address.isascii()


def message_needs_smtputf8(message: bytes) -> bool:
    """Whether a built message needs SMTPUTF8: its bodies are always 7-bit (7bit, QP or base64)
    and display names encoded, so only a UTF-8 address can make it non-ASCII (RFC 6532 §3)."""
    return not message.isascii()


def needs_smtputf8(addresses: AddressLike | Iterable[AddressLike]) -> bool:
    """Whether any of one or several addresses needs SMTPUTF8 (display names are encoded)."""
    if isinstance(addresses, str) or (isinstance(addresses, tuple) and len(addresses) == 2):
        return not address_is_ascii(_addr_spec_of(addresses))
    return any(not address_is_ascii(_addr_spec_of(item)) for item in addresses)


def _addr_spec_of(item: object) -> str:
    return str(item[1] if isinstance(item, tuple) else item)


def quote_name(name: str) -> str:
    """RFC 5322 §3.2.4 quoted-string: escape `"` and `\\` as quoted-pairs."""
    return '"' + _QUOTE_SPECIALS.sub(r"\\\1", name) + '"'


def add_display_name(folder: HeaderFolder, name: str) -> None:
    """A display name as atoms, a quoted-string, or encoded-words (RFC 2047 §5 rule 3).

    Never an encoded-word inside a quoted-string, nor text that looks like one left unencoded.
    """
    words = name.split(" ")
    if "=?" not in name and _ATOM_PHRASE.fullmatch(name) and max(map(len, words)) <= MAX_ATOM:
        for word in words:
            folder.add(" ", word)
    elif "=?" not in name and len(name) <= MAX_QUOTED_NAME and _QUOTABLE_NAME.fullmatch(name):
        folder.add(" ", quote_name(name))
    else:
        folder.add_encoded(" ", name)


def address_field(name: str, addresses: Sequence[Address]) -> str:
    """A folded address-list field such as To or Cc (RFC 5322 §3.4)."""
    folder = HeaderFolder(name)
    for index, address in enumerate(addresses):
        comma = "," if index < len(addresses) - 1 else ""
        if address.display_name:
            add_display_name(folder, address.display_name)
            folder.add(" ", f"<{address.addr_spec}>{comma}")
        else:
            folder.add(" ", address.addr_spec + comma)
    return folder.text()
