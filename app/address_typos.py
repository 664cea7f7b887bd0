"""Likely typos in the domain of an email address: ``ada@gmial.com`` → ``ada@gmail.com``.

Pure: strings in, a suggestion (or ``None``) out. A suggestion is advice for the student, who
may still send to what they typed; it is made only for addresses already found valid, and only
the domain is ever changed (the local part belongs to the mailbox's owner, RFC 5321 §2.4, and
may be anything).

Two kinds of typo are caught, as Mailcheck (mailcheck.js) does:

- a top-level domain mistyped (``.con``, ``.cmo``, ``.ogr``), mapped to the one meant;
- a domain within a small Damerau–Levenshtein distance of a common provider's (``hotmial.com``,
  ``yaho.com``, ``outlok.com``), on the domain as typed or with its top-level domain corrected;
  the provider's name under another country's domain (``hotmail.it``) is left alone.
"""

from __future__ import annotations

__all__ = ["COMMON_DOMAINS", "TLD_TYPOS", "edit_distance", "suggest_address"]

#: Providers most students use, and the domains reserved for examples (RFC 2606 §3). The order
#: breaks ties: the earlier, more common domain is suggested.
COMMON_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "fastmail.com",
    "comcast.net",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "outlook.fr",
    "hotmail.fr",
    "orange.fr",
    "free.fr",
    "qq.com",
    "163.com",
    "example.com",
    "example.org",
    "example.net",
)
_COMMON = frozenset(COMMON_DOMAINS)

#: Top-level domains as commonly mistyped, and the one meant. None of the typos is a delegated
#: top-level domain (the IANA root zone), so no working address is ever "corrected".
TLD_TYPOS: dict[str, str] = {
    "con": "com",
    "cmo": "com",
    "ocm": "com",
    "cpm": "com",
    "vom": "com",
    "xom": "com",
    "comm": "com",
    "coom": "com",
    "cim": "com",
    "ogr": "org",
    "rog": "org",
    "orgg": "org",
    "prg": "org",
    "nte": "net",
    "ent": "net",
    "nett": "net",
    "edy": "edu",
    "eud": "edu",
}

#: Damerau–Levenshtein distance allowed between a typed domain and a common one: two slips of
#: the finger, or one on a short domain, where two edits reach too many unrelated domains.
MAX_DISTANCE = 2
SHORT_DOMAIN_LENGTH = 7  # "msn.com", "aol.com": one edit at most
#: RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets, so an address 254.
MAX_ADDRESS_LENGTH = 254


def suggest_address(address: str) -> str | None:
    """The address the student probably meant, or ``None`` when *address* looks as intended.

    *address* must already be valid (one ``@``, a domain of dot-separated labels); the result
    differs from it only in the domain, and never names the same domain in another case.
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return None
    domain = domain.lower()
    meant = suggest_domain(domain)
    if meant is None or meant == domain:
        return None
    suggestion = f"{local}@{meant}"
    return suggestion if len(suggestion) <= MAX_ADDRESS_LENGTH else None


def suggest_domain(domain: str) -> str | None:
    """The common domain or corrected top-level domain *domain* (lowercase) is probably a typo
    of, or ``None``."""
    if domain in _COMMON:
        return None
    fixed = _with_tld_fixed(domain)
    return _nearest_common(fixed) or _nearest_common(domain) or fixed


def _with_tld_fixed(domain: str) -> str | None:
    rest, dot, tld = domain.rpartition(".")
    meant = TLD_TYPOS.get(tld)
    return f"{rest}.{meant}" if dot and rest and meant else None


def _nearest_common(domain: str | None) -> str | None:
    """The common domain nearest *domain* within the allowed distance (the earliest on a tie)."""
    if domain is None:
        return None
    if domain in _COMMON:
        return domain
    allowed = 1 if len(domain) <= SHORT_DOMAIN_LENGTH else MAX_DISTANCE
    best, best_distance = None, allowed + 1
    for common in COMMON_DOMAINS:
        distance = edit_distance(domain, common, limit=allowed)
        if distance < best_distance and not _another_country(domain, common):
            best, best_distance = common, distance
    return best


def _another_country(domain: str, common: str) -> bool:
    """Whether *domain* is *common* under a top-level domain two edits away or more: the
    provider's site in another country (``hotmail.it``, ``outlook.es``), not a typo of it the
    way ``hotmail.co`` or ``hotmail.cm`` are."""
    name, _, tld = domain.rpartition(".")
    common_name, _, common_tld = common.rpartition(".")
    return name == common_name and edit_distance(tld, common_tld, limit=1) > 1


def edit_distance(a: str, b: str, *, limit: int) -> int:
    """The Damerau–Levenshtein distance of *a* and *b* (optimal string alignment: insertions,
    deletions, substitutions and swaps of neighbours), or ``limit + 1`` once it exceeds *limit*.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)  # the two neighbours swapped
            current.append(cost)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)
