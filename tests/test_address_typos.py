"""Typo suggestions for an address's domain: advice that is always a valid, different address."""

from __future__ import annotations

import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import assume, given
from hypothesis import strategies as st

from app.address_typos import COMMON_DOMAINS, TLD_TYPOS, edit_distance, suggest_address

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"  # RFC 5322 §3.2.3
LOCAL_PARTS = st.text(ATEXT, min_size=1, max_size=30)
LABELS = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)


def is_valid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def reference_distance(a: str, b: str) -> int:
    """Optimal string alignment distance, straight from its definition (memoised recursion)."""
    table: dict[tuple[int, int], int] = {}
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            if min(i, j) == 0:
                table[i, j] = max(i, j)
                continue
            cost = min(
                table[i - 1, j] + 1,
                table[i, j - 1] + 1,
                table[i - 1, j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cost = min(cost, table[i - 2, j - 2] + 1)
            table[i, j] = cost
    return table[len(a), len(b)]


@st.composite
def mistyped(draw: st.DrawFn, domain: str) -> str:
    """*domain* with one or two slips: a letter dropped, doubled, changed or swapped."""
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(domain) - 1))
        slip = draw(st.sampled_from(["drop", "double", "change", "swap"]))
        letter = draw(st.sampled_from(string.ascii_lowercase))
        domain = {
            "drop": domain[:at] + domain[at + 1 :],
            "double": domain[:at] + domain[at] + domain[at:],
            "change": domain[:at] + letter + domain[at + 1 :],
            "swap": domain[:at] + domain[at + 1 : at + 2] + domain[at : at + 1] + domain[at + 2 :],
        }[slip]
    return domain


DOMAINS = st.one_of(
    st.sampled_from(COMMON_DOMAINS).flatmap(mistyped),
    st.lists(LABELS, min_size=2, max_size=4).map(".".join),
    st.tuples(LABELS, st.sampled_from(sorted(TLD_TYPOS))).map(".".join),
)
ADDRESSES = st.tuples(LOCAL_PARTS, DOMAINS).map("@".join).filter(is_valid)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ada@exmaple.con", "ada@example.com"),
        ("ada@gmial.com", "ada@gmail.com"),
        ("ada@gmail.con", "ada@gmail.com"),
        ("ada@gmail.co", "ada@gmail.com"),
        ("ada@hotmail.cm", "ada@hotmail.com"),
        ("ada@hotmial.com", "ada@hotmail.com"),
        ("ada@yaho.com", "ada@yahoo.com"),
        ("ada@outlok.com", "ada@outlook.com"),
        ("ada@iclod.com", "ada@icloud.com"),
        ("Ada.Lovelace@GMIAL.COM", "Ada.Lovelace@gmail.com"),
        ("ada@uni-bonn.con", "ada@uni-bonn.com"),
        ("ada@school.cmo", "ada@school.com"),
        ("ada@wikimedia.ogr", "ada@wikimedia.org"),
    ],
)
def test_likely_typos_are_corrected(typed: str, meant: str) -> None:
    assert suggest_address(typed) == meant


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org",
        "ada@students.example",
        "ada@uni-bonn.de",
        "ada@cs.ox.ac.uk",
        "ada@msm.org",
    ],
)
def test_addresses_far_from_any_common_domain_get_no_suggestion(address: str) -> None:
    assert suggest_address(address) is None


@pytest.mark.parametrize(
    "address", ["ada@hotmail.it", "ada@outlook.es", "ada@hotmail.ca", "ada@yahoo.de", "ada@gmx.at"]
)
def test_a_providers_domain_in_another_country_gets_no_suggestion(address: str) -> None:
    assert suggest_address(address) is None


@given(local=LOCAL_PARTS, domain=st.sampled_from(COMMON_DOMAINS), upper=st.booleans())
def test_common_domains_get_no_suggestion(local: str, domain: str, upper: bool) -> None:
    assert suggest_address(f"{local}@{domain.upper() if upper else domain}") is None


@given(ADDRESSES)
def test_a_suggestion_is_a_valid_address_and_not_the_one_typed(address: str) -> None:
    suggestion = suggest_address(address)
    assume(suggestion is not None)
    assert suggestion is not None
    assert suggestion.lower() != address.lower()
    assert is_valid(suggestion)


@given(ADDRESSES)
def test_only_the_domain_is_changed_and_the_suggestion_needs_no_further_one(address: str) -> None:
    suggestion = suggest_address(address)
    assume(suggestion is not None)
    assert suggestion is not None
    assert suggestion.rpartition("@")[0] == address.rpartition("@")[0]
    assert suggest_address(suggestion) is None


@given(st.sampled_from(COMMON_DOMAINS).flatmap(mistyped))
def test_a_suggested_common_domain_is_at_most_two_edits_away(domain: str) -> None:
    suggestion = suggest_address(f"ada@{domain}")
    assume(suggestion is not None and suggestion.endswith(tuple(COMMON_DOMAINS)))
    assert suggestion is not None
    meant = suggestion.removeprefix("ada@")
    tld_fixed = any(domain.endswith("." + typo) for typo in TLD_TYPOS)
    assert tld_fixed or reference_distance(domain, meant) <= 2


@given(st.text("abc.", max_size=8), st.text("abc.", max_size=8), st.integers(0, 3))
def test_edit_distance_is_the_optimal_string_alignment_distance(a: str, b: str, limit: int) -> None:
    assert edit_distance(a, b, limit=limit) == min(reference_distance(a, b), limit + 1)
