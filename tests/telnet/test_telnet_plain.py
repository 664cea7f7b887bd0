"""Quiz Markdown as readable plain text: code blocks indented and kept, lines wrapped, no marks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.telnet.plain import WIDTH, plain_text


def test_a_code_block_is_indented_and_never_wrapped() -> None:
    long_line = "MAIL FROM:<" + "a" * 90 + "@example.org>"
    text = plain_text(f"Look:\n\n```\n{long_line}\nRCPT TO:<b@example.org>\n```\n")
    assert text.splitlines() == ["Look:", "", "    " + long_line, "    RCPT TO:<b@example.org>"]


def test_emphasis_marks_go_inline_code_stays_links_show_where_they_go() -> None:
    source = "Which **implicit** TLS port does `smtps` use? See [RFC 8314](https://www.rfc-editor.org/rfc/rfc8314)."
    assert plain_text(source) == (
        "Which implicit TLS port does `smtps` use? See RFC 8314\n"
        "(https://www.rfc-editor.org/rfc/rfc8314)."
    )


def test_lists_keep_their_markers_and_hang() -> None:
    text = plain_text("- one\n- two that is long " + "word " * 20 + "\n\n1. first\n2. second\n")
    lines = text.splitlines()
    assert lines[0] == "-  one"
    assert lines[1].startswith("-  two that is long")
    assert lines[2].startswith("   word")
    assert lines[-2:] == ["1. first", "2. second"]


def test_a_label_hangs_in_front_of_the_first_line() -> None:
    text = plain_text("word " * 30, "   ", "b) ")
    assert text.startswith("b) word")
    assert all(line.startswith("   ") for line in text.splitlines()[1:])


def test_control_characters_in_quiz_text_cannot_drive_the_terminal() -> None:
    assert plain_text("Title\x1b]0;owned\x07 here") == "Title^[]0;owned^G here"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_any_text_comes_out_without_control_characters(source: str) -> None:
    text = plain_text(source)
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in text)


def test_prose_is_wrapped_to_the_width() -> None:
    text = plain_text("A sentence that goes on. " * 20)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
