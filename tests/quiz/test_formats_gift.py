"""GIFT import and export: Moodle's documented examples, the edge cases of its syntax, bad files,
and the round trip GIFT → YAML → GIFT → YAML."""

from __future__ import annotations

import html
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.quiz import render_markdown
from app.quiz.formats import quiz_file, read_gift, write_gift
from app.quiz.formats.draft import Conversion, DraftOption, DraftQuestion, render_yaml
from app.quiz.formats.text import escape_markdown, html_to_markdown
from app.quiz.loader import parse_quiz
from app.quiz.models import Quiz

FIXTURES = Path(__file__).parent / "fixtures"
DOCS = FIXTURES / "moodle-docs.gift"


def imported(source: str | bytes, name: str = "t.gift") -> tuple[Quiz | None, list[str]]:
    data = source.encode() if isinstance(source, str) else source
    result = quiz_file(read_gift(data, name), "t")
    return result.quiz, [str(p) for p in result.problems]


def only_question(source: str) -> tuple[dict, list[str]]:
    quiz, problems = imported(source)
    assert quiz is not None, problems
    (question,) = quiz.questions
    return question, problems


# --- Moodle's documentation, as written there ------------------------------------------------


def test_the_documented_examples_import_with_every_skip_at_its_line() -> None:
    quiz, problems = imported(DOCS.read_bytes(), "docs.gift")
    assert quiz is not None
    assert quiz.title == "Grant's tomb"  # the $CATEGORY's last part
    assert len(quiz.questions) == 16
    skipped = [p for p in problems if "skipped" in p]
    assert skipped == [
        "docs.gift:14: skipped: GIFT short-answer questions are not multiple choice",
        "docs.gift:17: skipped: GIFT matching questions are not multiple choice",
        "docs.gift:20: skipped: GIFT numerical questions are not multiple choice",
        "docs.gift:23: skipped: GIFT numerical questions are not multiple choice",
        "docs.gift:27: skipped: GIFT numerical questions are not multiple choice",
        "docs.gift:33: skipped: GIFT essay questions are not multiple choice",
    ]


def test_the_imported_file_passes_quizmail_check(tmp_path: Path) -> None:
    result = quiz_file(read_gift(DOCS.read_bytes(), str(DOCS)), "grants-tomb")
    path = tmp_path / "grants-tomb.yaml"
    path.write_bytes(result.data)
    assert parse_quiz(path.read_bytes(), path).questions == result.quiz.questions


def test_question_names_become_ids_and_repeat_names_are_numbered() -> None:
    quiz, _ = imported("::Jesus' hometown::A {=b ~c}\n\n::Jesus' hometown::D {=e ~f}\n\nG {=h ~i}")
    assert [q.id for q in quiz.questions] == ["Jesus-hometown", "Jesus-hometown-2", "q3"]


def test_single_answer_with_feedback_per_option() -> None:
    question, problems = only_question(
        "What's the answer?{\n~wrong answer#feedback on the wrong answer\n=right answer#Very good!}"
    )
    assert problems == []
    assert question.type == "single"
    assert [(o.text, o.correct, o.feedback) for o in question.options] == [
        ("wrong answer", False, "feedback on the wrong answer"),
        ("right answer", True, "Very good!"),
    ]


def test_missing_word_shows_a_blank_where_the_answers_were() -> None:
    question, _ = only_question("Grant is {~buried =entombed ~living} in Grant's tomb.")
    assert question.text == "Grant is _____ in Grant's tomb."


def test_weights_without_an_equals_sign_make_a_multiple_answer_question() -> None:
    question, problems = only_question(
        "Which two? {~%-50%No one ~%50%Grant ~%50%Grant's wife ~%-50%Grant's father}"
    )
    assert question.type == "multiple"
    assert [o.correct for o in question.options] == [False, True, True, False]
    assert problems == []  # -50% each wrong is exactly our partial scoring with two right


def test_weights_our_scoring_cannot_reproduce_are_reported() -> None:
    _, problems = only_question("Which two? {~%-100%No one ~%50%Grant ~%50%Wife}")
    assert problems == [
        "t.gift:1: weights -100%/50%/50% become QuizMail's partial scoring: each right option"
        " earns 50%, each wrong one takes 50% away"
    ]


def test_partial_credit_on_a_single_answer_question_is_reported() -> None:
    question, problems = only_question("Q {~wrong\n~%50%half credit\n=full credit}")
    assert [o.correct for o in question.options] == [False, False, True]
    assert problems == [
        "t.gift:2: the 50% weight of 'half credit' is not kept: a single-answer question"
        " scores only its right answer"
    ]


def test_two_full_mark_answers_cannot_be_a_single_answer_question() -> None:
    quiz, problems = imported("Q {=a =b ~c}")
    assert quiz is None
    assert problems[0].startswith("t.gift:1: skipped: 2 answers give full marks")


@pytest.mark.parametrize(
    ("answers", "answer", "feedback"),
    [
        ("T", True, {}),
        ("FALSE", False, {}),
        ("TRUE#shown when wrong", True, {"false": "shown when wrong"}),
        ("F#wrong!#right!", False, {"true": "wrong!", "false": "right!"}),
        ("T##only when right", True, {"true": "only when right"}),
    ],
)
def test_true_false_and_its_two_feedbacks(answers: str, answer: bool, feedback: dict) -> None:
    question, _ = only_question(f"The sun rises in the east.{{{answers}}}")
    assert question.type == "true_false"
    assert question.correct_ids == {str(answer).lower()}
    assert {o.id: o.feedback for o in question.options if o.feedback} == feedback


def test_general_feedback_becomes_the_explanation() -> None:
    question, _ = only_question("Q {=a ~b ####Because a.}")
    assert question.explanation == "Because a."


def test_comments_are_left_out_also_inside_a_question() -> None:
    question, _ = only_question("// a comment\nWhich? {\n// not an answer\n=a\n~b\n}")
    assert [o.text for o in question.options] == ["a", "b"]


def test_escapes_give_the_characters_themselves() -> None:
    question, _ = only_question(r"[markdown]1 \= 1\: \{ok\} \# \~ \\ line\nnext {=\= a ~b\#c}")
    assert question.text == "1 = 1: {ok} # ~ \\ line\nnext"
    assert question.options[0].text == "= a"
    assert question.options[1].text == "b#c"


@pytest.mark.parametrize(
    ("source", "markdown"),
    [
        ("[html]<p>Is <b>this</b> <i>it</i>?</p>", "Is **this** *it*?"),
        ("[html]Run <code>ls *</code>", "Run `ls *`"),
        ("[html]<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("[html]See <a href='https://example.org'>this</a>", "See [this](https://example.org)"),
        ("[html]<pre>a &lt; b\n  *c*</pre>", "```\na < b\n  *c*\n```"),
        ("[plain]2 * 3 = 6 <b>", r"2 \* 3 = 6 \<b\>"),
        ("[moodle]first line\nsecond", "first line\\\nsecond"),
        ("plain by default, with *stars*", r"plain by default, with \*stars\*"),
        ("[markdown]kept **as is**", "kept **as is**"),
    ],
)
def test_text_formats_become_markdown_that_shows_the_same(source: str, markdown: str) -> None:
    question, _ = only_question(source + " {=a ~b}")
    assert question.text == markdown


def test_html_that_markdown_cannot_show_is_reported() -> None:
    question, problems = only_question('[html]Look: <img src="x.png"> here {=a ~b}')
    assert question.text == "Look: here"
    assert problems == [
        "t.gift:1: HTML <img> in the question text cannot be shown in Markdown: only its text is"
        " kept"
    ]


@given(st.text(string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "")))
def test_plain_text_as_markdown_shows_exactly_that_text(text: str) -> None:
    line = " ".join(text.split())
    rendered = str(render_markdown(escape_markdown(line)))
    assert rendered == html.escape(line).replace("&#x27;", "'") or not line


def test_html_lists_inside_lists_are_indented() -> None:
    converted = html_to_markdown("<ol><li>a<ul><li>b</li></ul></li><li>c</li></ol>")
    assert converted.markdown == "1. a\n   - b\n2. c"


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "Q {=a ~b\nstill open",
            "'{' on line 1 is not closed before the blank line that ends the question",
        ),
        ("Q =a ~b}", "'}' on line 1 closes no '{' (write \\} for a brace in the text)"),
        (
            "Q {=a ~b {c}",
            "a second '{' on line 1, inside the answers (write \\{ for a brace in the text)",
        ),
        (
            "Q {=a ~b}\nand {c}",
            "a second '{' on line 2, after the answers (write \\{ for a brace in the text)",
        ),
        ("Q {=a ~b}}", "a second '}' on line 1 (write \\} for a brace in the text)"),
        ("Q } {=a ~b}", "'}' on line 1 comes before any '{' (write \\} for a brace)"),
    ],
)
def test_unbalanced_braces_are_a_problem_at_their_line(source: str, message: str) -> None:
    quiz, problems = imported(source)
    assert quiz is None
    assert problems == [f"t.gift:1: skipped: {message}"]


def test_a_brace_left_open_does_not_swallow_the_next_question() -> None:
    quiz, problems = imported("Broken {=a ~b\n\n\nFine {=c ~d}")
    assert [q.text for q in quiz.questions] == ["Fine"]
    assert problems == [
        "t.gift:1: skipped: '{' on line 1 is not closed before the blank line that ends the"
        " question"
    ]


def test_an_unescaped_equals_sign_inside_a_word_is_named() -> None:
    quiz, problems = imported("Two plus two {=2+2=4 ~5}")
    assert quiz is None
    assert problems == [
        "t.gift:1: skipped: the '=' in '=2+2=4' starts a new answer, as in Moodle"
        " (write \\= for the character itself)"
    ]


def test_an_unescaped_hash_in_feedback_is_kept_and_named() -> None:
    question, problems = only_question("Q {=a#use #1 ~b}")
    assert question.options[0].feedback == "use #1"
    assert problems == [
        "t.gift:1: a second '#' in the feedback of 'a' is kept as text (write \\# to say so)"
    ]


def test_a_question_the_loader_refuses_is_skipped_with_its_reason() -> None:
    quiz, problems = imported("Q {~ ~b}\n\nFine {=c ~d}")
    assert [q.text for q in quiz.questions] == ["Fine"]
    assert problems == ["t.gift:1: skipped: an option of the question is empty"]


def test_mixed_line_endings_keep_line_numbers_right() -> None:
    source = b"// one\r\n\r\nQ {=a ~b}\r\rMatch {=a -> b =c -> d}\n"
    quiz, problems = imported(source)
    assert len(quiz.questions) == 1
    assert problems == ["t.gift:5: skipped: GIFT matching questions are not multiple choice"]


@pytest.mark.parametrize(
    "encoded",
    [
        b"\xef\xbb\xbfCaf\xc3\xa9? {=oui ~non}",
        "Café? {=oui ~non}".encode("utf-16"),
    ],
)
def test_a_byte_order_mark_is_read_past(encoded: bytes) -> None:
    question, _ = only_question(encoded)  # type: ignore[arg-type]
    assert question.text == "Café?"


def test_a_file_that_is_not_utf8_names_its_line() -> None:
    quiz, problems = imported(b"Q {=a ~b}\n\nCaf\xe9 {=a ~b}")
    assert quiz is None
    assert problems == ["t.gift:3: not UTF-8 text (byte 0xE9): save the file as UTF-8"]


def test_binary_data_is_refused() -> None:
    _, problems = imported(b"\x00\x01\x02")
    assert problems == ["t.gift:1: binary data, not text"]


def test_a_bank_too_big_for_a_quiz_file_is_refused_in_one_line() -> None:
    question = "::Q{n}::What is {n} plus one, in words and digits?{{={n}#right ~{n}#wrong}}\n\n"
    source = "".join(question.format(n=n) for n in range(30_000))  # about 2.5 MB
    assert len(source) > 2_000_000
    quiz, problems = imported(source + "Z" * 3_000_000 + " {=a ~b}")
    assert quiz is None
    (problem,) = problems
    assert problem.startswith("t.gift:1: the quiz file would take 8.")
    assert problem.endswith(
        "MiB, and quiz files hold at most 4 MiB: split the questions into several files"
    )


def test_a_description_is_not_a_question() -> None:
    _, problems = imported("Just some text.\n\nQ {=a ~b}")
    assert problems == ["t.gift:1: skipped: a GIFT description is text without a question"]


def test_more_categories_join_the_first_one() -> None:
    quiz, problems = imported("$CATEGORY: tom/dick\n\nQ {=a ~b}\n\n$CATEGORY: tom/harry\n")
    assert quiz.title == "dick"
    assert problems == ["t.gift:5: category 'tom/harry' joins the quiz 'dick'"]


# --- export and the round trip -------------------------------------------------------------------


def shipped(name: str) -> Quiz:
    path = Path(__file__).parents[2] / "questions" / f"{name}.yaml"
    return parse_quiz(path.read_bytes(), path)


def test_export_writes_what_moodles_importer_reads() -> None:
    quiz = parse_quiz(
        b"title: A/B\nquestions:\n"
        b"  - {id: one, text: 'Is 1 = 1?', options: [{text: 'yes', correct: true,"
        b" feedback: 'Right: {1}'}, {text: 'no'}], explanation: 'Because #.'}\n"
        b"  - {id: two, type: multiple, text: 'Which?', options: [{text: a, correct: true},"
        b" {text: b, correct: true}, {text: c}, {text: d, correct: true}]}\n"
        b"  - {id: three, type: true_false, text: 'True?', answer: false,"
        b" feedback: {false: 'Yes, false.'}}\n",
        Path("ab.yaml"),
    )
    gift, notes = write_gift(quiz, "ab.yaml")
    assert notes == []
    assert gift.splitlines()[2:] == [
        "$CATEGORY: $course$/top/A//B",
        "",
        "::one::[markdown]Is 1 \\= 1?{",
        "\t=yes#Right\\: \\{1\\}",
        "\t~no",
        "\t####Because \\#.",
        "}",
        "",
        "::two::[markdown]Which?{",
        "\t~%33.33333%a",
        "\t~%33.33333%b",
        "\t~%-33.33333%c",
        "\t~%33.33333%d",
        "}",
        "",
        "::three::[markdown]True?{FALSE##Yes, false.}",
    ]


def test_export_names_what_gift_cannot_hold() -> None:
    _, notes = write_gift(shipped("smtp"), "smtp.yaml")
    assert "smtp.yaml: shuffle has no GIFT equivalent and is left out" in notes


@pytest.mark.parametrize("name", ["smtp", "dns"])
def test_the_shipped_quizzes_survive_export_and_import(name: str) -> None:
    quiz = shipped(name)
    gift, _ = write_gift(quiz, f"{name}.yaml")
    back = quiz_file(read_gift(gift.encode(), f"{name}.gift"), name)
    assert back.problems == []
    assert back.quiz.title == quiz.title
    assert [_content(q) for q in back.quiz.questions] == [_content(q) for q in quiz.questions]


def _content(question) -> tuple:
    """What GIFT keeps of a question: not option ids, nor white space around a text (Moodle
    trims every text)."""
    options = tuple((o.text.strip(), o.correct, _stripped(o.feedback)) for o in question.options)
    explanation = _stripped(question.explanation)
    return question.id, question.type, question.text.strip(), options, explanation


def _stripped(text: str | None) -> str | None:
    return text.strip() if text else text


# Texts a quiz may hold: GIFT's specials, Markdown, line breaks and blank lines, non-ASCII.
TEXT = (
    st.lists(
        st.sampled_from([*"ab Z09", *"~=#{}:\\[]%*_`-", "\n", "\n\n", "é", "→", "::", "//"]),
        min_size=1,
        max_size=30,
    )
    .map(lambda parts: "".join(parts).strip())
    .filter(bool)
)
OPTION = st.builds(DraftOption, TEXT, st.booleans(), st.none() | TEXT)


@st.composite
def draft_question(draw: st.DrawFn) -> DraftQuestion:
    kind = draw(st.sampled_from(["single", "multiple", "true_false"]))
    explanation = draw(st.none() | TEXT)
    if kind == "true_false":
        feedback = draw(st.dictionaries(st.sampled_from(["true", "false"]), TEXT))
        answer = draw(st.booleans())
        return DraftQuestion("g", 1, kind, draw(TEXT), (), answer, feedback, explanation)
    options = draw(st.lists(OPTION, min_size=2, max_size=5, unique_by=lambda o: o.text))
    right = draw(st.integers(0, len(options) - 1))
    if kind == "single":
        options = [DraftOption(o.text, i == right, o.feedback) for i, o in enumerate(options)]
    elif not any(o.correct for o in options):
        options[right] = DraftOption(options[right].text, True, options[right].feedback)
    return DraftQuestion("g", 1, kind, draw(TEXT), tuple(options), explanation=explanation)


# Moodle's category paths cannot tell a "/" at the end of a name from the separator after it.
TITLE = TEXT.filter(lambda title: not title.startswith("/") and not title.endswith("/"))


@given(st.lists(draft_question(), min_size=1, max_size=4), TITLE)
def test_round_trip_gift_yaml_gift_yaml_is_stable(questions: list, title: str) -> None:
    first = parse_quiz(render_yaml(questions, title)[0], Path("rt.yaml"))
    gift_1, _ = write_gift(first, "rt.yaml")
    yaml_1 = quiz_file(read_gift(gift_1.encode(), "rt.gift"), "rt")
    gift_2, _ = write_gift(yaml_1.quiz, "rt.yaml")
    yaml_2 = quiz_file(read_gift(gift_2.encode(), "rt.gift"), "rt")
    assert yaml_1.problems == []
    assert [_content(q) for q in yaml_1.quiz.questions] == [_content(q) for q in first.questions]
    assert yaml_1.quiz.title == " ".join(title.split("\n")) or yaml_1.quiz.title == title
    assert gift_2 == gift_1
    assert yaml_2.data == yaml_1.data


def test_conversions_from_several_files_make_one_quiz() -> None:
    both = Conversion()
    both.extend(read_gift(b"A {=a ~b}", "one.gift"))
    both.extend(read_gift(b"$CATEGORY: Later\n\nB {=a ~b}", "two.gift"))
    result = quiz_file(both, "both")
    assert [q.text for q in result.quiz.questions] == ["A", "B"]
    assert result.quiz.title == "Later"
