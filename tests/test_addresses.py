"""mailbox_key: when two addresses name one mailbox (case ignored, IDNA-aware in the domain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.addresses import mailbox_key, same_mailbox


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ada@Example.ORG", "ada@example.org"),  # RFC 5321 §2.4: the domain ignores case
        ("ADA@example.org", "ada@example.org"),  # and, as every provider does, the local part
        ("Straße@example.org", "STRASSE@example.org"),  # full case folding in the local part
        ("ada@xn--bcher-kva.example", "ada@Bücher.example"),  # A-label and U-label
        ("ada@XN--BCHER-KVA.EXAMPLE", "ada@bücher.example"),
        ("Postmaster", "postmaster"),  # RFC 5321 §4.5.1: no domain at all
        ("e\u0301l\u00e8ve@example.org", "\u00e9l\u00e8ve@example.org"),  # NFC (RFC 6532 §3.1)
    ],
)
def test_spellings_of_one_mailbox_share_a_key(a: str, b: str) -> None:
    assert mailbox_key(a) == mailbox_key(b)
    assert same_mailbox(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ada@example.org", "ada@example.com"),
        ("ada@straße.example", "ada@strasse.example"),  # IDNA2008 keeps ß in a domain
        ("ada.b@example.org", "adab@example.org"),
    ],
)
def test_other_mailboxes_have_other_keys(a: str, b: str) -> None:
    assert not same_mailbox(a, b)


@pytest.mark.parametrize("label", ["xn--a", "xn--zz", "xn--abc-"])
def test_a_label_that_encodes_nothing_stays_as_it_is(label: str) -> None:
    assert mailbox_key(f"ada@{label.upper()}.example") == f"ada@{label}.example"


def test_the_key_of_an_ordinary_address_is_its_lower_case() -> None:
    assert mailbox_key("Ada.Lovelace+quiz@School.Example") == "ada.lovelace+quiz@school.example"


addresses = st.builds(
    lambda local, domain: f"{local}@{domain}", st.text(min_size=1), st.text(min_size=1)
)


@given(addresses)
def test_a_key_is_its_own_key(address: str) -> None:
    assert mailbox_key(mailbox_key(address)) == mailbox_key(address)


@given(
    st.from_regex(r"[A-Za-z0-9.+_-]{1,20}@[A-Za-z0-9-]{1,20}(\.[A-Za-z]{2,6}){1,2}", fullmatch=True)
)
def test_case_never_makes_two_mailboxes(address: str) -> None:
    assert mailbox_key(address.upper()) == mailbox_key(address.lower()) == mailbox_key(address)
