"""Addresses: checking addr-specs (RFC 5322 §3.4.1, RFC 6532) and writing address fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.mail.checks import refuse_controls, require_str
from app.mail.fold import HeaderFolder
from app.mail.limits import MAX_ADDRESS, MAX_LINE

AddressLike = str | tuple[str, str]

# RFC 5322 §3.2.3 atext, widened by RFC 6532 §3.2 to any non-ASCII character (C1 controls aside).
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a0-\U0010ffff]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
# RFC 5322 §3.2.4 quoted-string without folding: qtext or quoted-pair, and plain spaces.
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u00a0-\U0010ffff]|\\[\x20-\x7e])*"'
_DOMAIN_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]*\]"  # RFC 5322 §3.4.1 dtext
_ADDR_SPEC = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|{_DOMAIN_LITERAL})")
# RFC 5322 §3.2.3 atom (ASCII atext only: a display name that is not ASCII is encoded).
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_QUOTABLE_NAME = re.compile(r"[\x20-\x7e]+")
_QUOTE_SPECIALS = re.compile(r'(["\\])')
_BLANK_RUN = re.compile(r"\s*[ \t]\s*")  # a run of whitespace holding a space or a tab
MAX_QUOTED_NAME = 60  # our choice: a longer name with specials is quoted word by word, to fold


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
    """name with each whitespace run that holds a space or tab as one space, none at the ends.

    RFC 5322 §3.2.2: in a phrase, a run of whitespace means a single space, and parsers read
    display names so (Python's collapses such runs even inside encoded-words, taking in any
    Unicode whitespace next to the blank), so we send them so. Runs of other whitespace alone,
    such as the ideographic space in "山田\u3000太郎", are kept.
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


def phrase_words(name: str, max_word: int) -> list[str] | None:
    """name as RFC 5322 §3.2.5 phrase words (atoms and quoted-strings), or None to encode it.

    Printable ASCII needs no encoding, so it never gets any: encoded-words would have to split
    a long word, and readers that keep the blank between adjacent encoded-words (Python's, see
    python/cpython#128110) would then show a space that is not there. The words are the name's
    own space-separated words, which a reader joins with one space (RFC 5322 §3.2.2), so the
    field folds only where the name has a space; a word with specials is quoted alone unless
    the whole name fits one quoted-string of MAX_QUOTED_NAME. A word longer than 78 stays
    whole on a line of its own (RFC 5322 §2.1.1 allows up to 998); only one longer than
    max_word, or text that looks like an encoded-word, is encoded instead.
    """
    if "=?" in name or not _QUOTABLE_NAME.fullmatch(name):
        return None
    words = name.split(" ")
    if len(name) <= MAX_QUOTED_NAME and not all(map(_ATOM.fullmatch, words)):
        return [quote_name(name)]
    phrase = [word if _ATOM.fullmatch(word) else quote_name(word) for word in words]
    return phrase if max(map(len, phrase)) <= max_word else None


def add_display_name(folder: HeaderFolder, name: str, max_word: int) -> None:
    """A display name as atoms and quoted-strings, or as encoded-words (RFC 2047 §5 rule 3).

    Never an encoded-word inside a quoted-string, nor text that looks like one left unencoded.
    """
    words = phrase_words(name, max_word)
    if words is None:
        folder.add_encoded(" ", name)
        return
    for word in words:
        folder.add(" ", word)


def address_field(name: str, addresses: Sequence[Address]) -> str:
    """A folded address-list field such as To or Cc (RFC 5322 §3.4)."""
    folder = HeaderFolder(name)
    max_word = MAX_LINE - len(name) - 2  # a word alone on the field's first line: "To: word"
    for index, address in enumerate(addresses):
        comma = "," if index < len(addresses) - 1 else ""
        if address.display_name:
            add_display_name(folder, address.display_name, max_word)
            folder.add(" ", f"<{address.addr_spec}>{comma}")
        else:
            folder.add(" ", address.addr_spec + comma)
    return folder.text()
