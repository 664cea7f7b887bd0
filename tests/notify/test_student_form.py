"""The two fields taken from the "Email my results" form: what is accepted is safe in a header."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from app.web.results_email import FormProblem, student_from_form

BREAKS = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x0b", "\x85", "\u2028", "\u2029"])


def is_unsafe(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


@given(email=st.text(max_size=40), name=st.text(max_size=40))
def test_nothing_accepted_holds_a_control_character(email: str, name: str) -> None:
    try:
        student = student_from_form(MultiDict({"email": email, "name": name}))
    except FormProblem:
        return
    assert not is_unsafe(student.email)
    assert not is_unsafe(student.name or "")


@given(position=st.integers(min_value=0, max_value=15), bad=BREAKS)
def test_a_line_break_anywhere_in_the_address_is_refused(position: int, bad: str) -> None:
    address = "ada@example.org"
    with pytest.raises(FormProblem, match="line break or another control character"):
        student_from_form(MultiDict({"email": address[:position] + bad + address[position:]}))


@given(name=st.text(min_size=1, max_size=30), bad=BREAKS, cut=st.integers(0, 30))
def test_a_line_break_anywhere_in_the_name_is_refused(name: str, bad: str, cut: int) -> None:
    form = MultiDict({"email": "ada@example.org", "name": name[:cut] + bad + name[cut:]})
    with pytest.raises(FormProblem):
        student_from_form(form)


def test_the_address_is_normalised_and_the_name_tidied() -> None:
    student = student_from_form(MultiDict({"email": " Ada@Bücher.Example ", "name": " Ada   L. "}))
    assert (student.email, student.name) == ("Ada@xn--bcher-kva.example", "Ada L.")


def test_an_empty_name_is_no_name() -> None:
    assert student_from_form(MultiDict({"email": "ada@example.org", "name": "  "})).name is None
