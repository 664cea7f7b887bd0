"""The server's signature on results.json: made with the app's key, checked with it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.results_signature import Verdict, check, sign

KEY = "the app's secret key"


def test_a_signature_vouches_for_the_bytes_it_was_made_for() -> None:
    data = b'{"schema": "quizmail.results/1"}'
    assert check(data, sign(data, KEY), KEY) is Verdict.VERIFIED


def test_no_signature_is_unsigned_and_a_blank_one_too() -> None:
    assert check(b"{}", None, KEY) is Verdict.UNSIGNED
    assert check(b"{}", "  ", KEY) is Verdict.UNSIGNED


def test_another_servers_key_or_junk_is_forged() -> None:
    data = b"{}"
    assert check(data, sign(data, "another server"), KEY) is Verdict.FORGED
    assert check(data, "not base64 at all!", KEY) is Verdict.FORGED
    assert check(data, "naïve", KEY) is Verdict.FORGED


def test_the_signature_is_for_results_only() -> None:
    """An attempt token signed with the same key is no results signature (the purpose differs)."""
    from itsdangerous import Signer

    data = b"{}"
    other = Signer(KEY, salt="quizmail.attempt").get_signature(data).decode()
    assert check(data, other, KEY) is Verdict.FORGED


@given(st.binary(max_size=2000), st.binary(min_size=1, max_size=8), st.integers(0, 2000))
def test_any_change_to_the_bytes_breaks_the_signature(data: bytes, extra: bytes, at: int) -> None:
    signature = sign(data, KEY)
    assert check(data, signature, KEY) is Verdict.VERIFIED
    at = min(at, len(data))
    changed = data[:at] + extra + data[at:]
    assert check(changed, signature, KEY) is Verdict.FORGED
