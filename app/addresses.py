"""When two addresses name one mailbox: :func:`mailbox_key`, the one comparison every part uses.

RFC 5321 §2.4: domain names are case-insensitive; the local part may be case-sensitive, but
"mailbox domains follow normal DNS rules" and no mail provider in use treats ``Ada`` and ``ada``
as two people. QuizMail therefore ignores case in both parts: the mail store's mailboxes, its
recipient filter, the gradebook's students, the POP3 logins and ``quizmail mailbox list --to``
all compare ``mailbox_key(a) == mailbox_key(b)``.

- The local part is case-folded (``str.casefold``: ``Straße`` and ``STRASSE`` are one) and put in
  Unicode NFC (RFC 6532 §3.1: UTF-8 addresses should be normalised so).
- The domain is compared as IDNA does: a label written as an A-label (``xn--bcher-kva``, RFC 5890
  §2.3.2.1) is read as its U-label (``bücher``), and labels are lowercased, not case-folded:
  IDNA2008 (RFC 5892) keeps ``ß`` and final sigma, which folding would turn into other domains.

The key is for comparing, and for naming a mailbox; it is never sent anywhere.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["domain_key", "mailbox_key", "same_mailbox"]

#: RFC 5890 §2.3.2.1: the prefix of an A-label, an IDNA label encoded as ASCII (Punycode).
ACE_PREFIX = "xn--"


@functools.lru_cache(maxsize=8192)
def mailbox_key(address: str) -> str:
    """The form of *address* two spellings of one mailbox share: ``Ada@Example.ORG`` and
    ``ada@example.org`` give ``ada@example.org``. An address without ``@`` (``Postmaster``,
    RFC 5321 §4.5.1) is all local part."""
    local, at, domain = address.rpartition("@")
    if not at:
        return _local_key(domain)
    return f"{_local_key(local)}@{domain_key(domain)}"


def same_mailbox(a: str, b: str) -> bool:
    """Whether *a* and *b* reach the same mailbox."""
    return mailbox_key(a) == mailbox_key(b)


def _local_key(local: str) -> str:
    return unicodedata.normalize("NFC", local.casefold())


def domain_key(domain: str) -> str:
    """A domain as compared: Unicode labels (from ``xn--`` where they are ACE), lowercased."""
    return ".".join(_label_key(label) for label in domain.split("."))


def _label_key(label: str) -> str:
    """One domain label, lowercased, an A-label read as its U-label (a bad one stays as it is)."""
    lowered = label.lower()
    if lowered.startswith(ACE_PREFIX) and lowered.isascii():
        lowered = _u_label(lowered) or lowered
    return unicodedata.normalize("NFC", lowered)


def _u_label(a_label: str) -> str | None:
    """The U-label an A-label encodes; None if it encodes none (ASCII only, or unprintable)."""
    try:
        decoded = a_label[len(ACE_PREFIX) :].encode("ascii").decode("punycode").lower()
    except UnicodeError:
        return None
    return None if decoded.isascii() or not decoded.isprintable() else decoded
