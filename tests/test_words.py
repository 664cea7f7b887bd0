"""Counts in words, and text from mail made safe for a terminal."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from app.words import counted, visible


def test_counted_agrees_in_number() -> None:
    assert [counted(n, "message") for n in (0, 1, 2)] == ["0 messages", "1 message", "2 messages"]
    assert counted(2, "other mailbox", "other mailboxes") == "2 other mailboxes"


def test_visible_shows_controls_as_less_does() -> None:
    assert visible("a\x1b]0;x\x07b\x7f\x9b") == "a^[]0;x^Gb^?<U+009B>"
    assert visible("two\nlines\ttab", keep="\n") == "two\nlines^Itab"
    assert visible("Zoë — naïve") == "Zoë — naïve"


@given(st.text(), st.sampled_from(["", "\n", "\t\n"]))
def test_visible_leaves_no_control_but_the_kept_ones(text: str, keep: str) -> None:
    shown = visible(text, keep=keep)
    assert all(unicodedata.category(c) != "Cc" or c in keep for c in shown)
    assert visible(shown, keep=keep) == shown  # once shown, nothing is left to show
