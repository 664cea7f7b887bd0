"""Property: explaining any transcript never raises, and keeps every line it was given."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.explain import explain, format_steps

PREFIXES = st.sampled_from(["C: ", "S: ", "C:", "S:", "", "-- "])
WORDS = st.sampled_from(
    [
        "EHLO",
        "MAIL FROM:",
        "RCPT TO:<",
        "DATA",
        ".",
        "..",
        "250",
        "250-",
        "354 ",
        "334 ",
        "5.1.1",
        "220 ",
        "STARTTLS",
        "AUTH",
        "SIZE",
        "<12 bytes of message data>",
        "<>",
        "\x00",
        "\udcff",
    ]
)
TEXT = st.one_of(st.text(max_size=30), st.lists(WORDS, max_size=4).map(" ".join), WORDS)
LINES = st.lists(st.tuples(PREFIXES, TEXT).map("".join), max_size=30)


@given(LINES)
def test_explaining_any_transcript_never_raises(lines: list[str]) -> None:
    steps = explain(lines)
    format_steps(steps)
    shown = sum(len(step.reply) for step in steps)
    assert shown == sum(line.startswith("S:") for line in lines)
