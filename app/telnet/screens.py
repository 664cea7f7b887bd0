"""What a telnet session shows: the quiz list, a question with lettered options, the summary before
grading, the score and review, and what became of a results email. Text only, no state.

The words follow the web's pages and the results email's text part (templates/email/results.txt):
the same verdicts, "Passed" / "Not passed", and the same rule for when the right answers show
(:meth:`app.quiz.Quiz.shows_answers`).
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from app.outbox import OutboxRecord
from app.quiz import Attempt, Option, Question, QuestionResult, Quiz, Result, format_duration
from app.quiz.attempts import BoundedCache
from app.report import format_points
from app.results_mail import HEADINGS, facts, summary
from app.telnet.plain import plain_text, wrapped
from app.words import counted, visible

__all__ = [
    "LETTERS",
    "email_outcome",
    "question_screen",
    "quiz_list",
    "results_screen",
    "review_screen",
    "summary_screen",
    "time_left",
]

#: One letter per option, as the loader allows at most 26 (MAX_OPTIONS): a) … z).
LETTERS = string.ascii_lowercase
RULE = "-" * 72
TEXT_INDENT = "   "
KINDS = {
    "single": "one answer",
    "true_false": "true or false",
    "multiple": "select all that apply: one or more letters, such as a c",
}


def quiz_list(quizzes: Sequence[Quiz], now: datetime) -> str:
    """The numbered list a session starts from."""
    if not quizzes:
        return "There are no quizzes to take yet. Come back later (quit to leave)."
    lines = ["Quizzes:"]
    for number, quiz in enumerate(quizzes, start=1):
        about = [counted(quiz.question_count, "question")]
        if quiz.time_limit:
            about.append(f"time limit {format_duration(quiz.time_limit)}")
        if quiz.is_closed(now):
            about.append("closed")
        lines.append(f"  {number}) {quiz.title} ({', '.join(about)})")
    lines.append(
        wrapped("Type the number of a quiz to start it (help for the commands, quit to leave).")
    )
    return "\n".join(lines)


def quiz_heading(quiz: Quiz) -> str:
    """The quiz's title, description and rules, once before its first question."""
    lines = [RULE, quiz.title]
    if quiz.description:
        lines.append(plain_text(quiz.description))
    rules = [counted(quiz.question_count, "question"), f"pass mark {quiz.pass_mark:.0%}"]
    if quiz.time_limit:
        rules.append(f"time limit {format_duration(quiz.time_limit)}, kept by the server's clock")
    sentence = ", ".join(rules)
    lines.append(wrapped(sentence[0].upper() + sentence[1:] + "."))
    lines.append(
        wrapped("Answer with the letter of an option; back, skip, submit, help and quit also work.")
    )
    return "\n".join(lines)


def question_screen(
    quiz: Quiz,
    attempt: Attempt,
    position: int,
    chosen: Collection[str],
    left: timedelta | None,
) -> str:
    """Question *position* (0-based) of the attempt, its options lettered in the attempt's order,
    the answer given so far and the time left."""
    question = quiz.question(attempt.question_ids[position])
    option_ids = attempt.option_ids[position]
    head = f"Question {position + 1} of {len(attempt.question_ids)} ({KINDS[question.type]})"
    if left is not None:
        head += f", {time_left(left)}"
    key = (quiz.id, quiz.version, question.id, option_ids)
    lines = [RULE, wrapped(head), _QUESTIONS.get(key, lambda: _question_body(question, option_ids))]
    if chosen:
        options = question.options_in(option_ids)
        lines += ["", f"Your answer so far: {letters_of(options, chosen)}"]
    return "\n".join(lines)


def _question_body(question: Question, option_ids: tuple[str, ...]) -> str:
    """The text and the lettered options in one order: the same for every attempt showing it."""
    lines = [plain_text(question.text), ""]
    lines += [
        plain_text(o.text, TEXT_INDENT + "   ", f"{TEXT_INDENT}{LETTERS[n]}) ")
        for n, o in enumerate(question.options_in(option_ids))
    ]
    return "\n".join(lines)


#: Question bodies by quiz version, question and order of options: a few quizzes' worth (four
#: options have 24 orders) before the cache starts over.
_QUESTIONS: BoundedCache[tuple[object, ...], str] = BoundedCache(10_000)


def letters_of(options: Sequence[Option], chosen: Collection[str]) -> str:
    """``a c``: the letters of the *chosen* option ids among *options* as shown."""
    return " ".join(LETTERS[n] for n, option in enumerate(options) if option.id in chosen)


def time_left(left: timedelta) -> str:
    """``14 min left``, ``40 s left``; ``time is up`` at or past zero."""
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "time is up"
    if seconds < 120:
        return f"{seconds} s left"
    return f"{seconds // 60} min left"


def summary_screen(quiz: Quiz, attempt: Attempt, answers: Mapping[str, Collection[str]]) -> str:
    """Before grading, as the web's summary step: what is still unanswered."""
    count = len(attempt.question_ids)
    missing = [str(n) for n, qid in enumerate(attempt.question_ids, 1) if not answers.get(qid)]
    lines = [RULE, f"You have answered {count - len(missing)} of {counted(count, 'question')}."]
    if missing:
        lines.append(f"Not answered: {', '.join(missing)}.")
    lines.append(
        wrapped(
            "Type submit to grade your answers (it cannot be undone), or a question number to"
            " go back to it."
        )
    )
    return "\n".join(lines)


def results_screen(result: Result, show_answers: bool, note: str | None = None) -> str:
    """The score, pass or fail, and the review of every question."""
    return "\n".join([score_lines(result, note), review_screen(result, show_answers)])


def score_lines(result: Result, note: str | None = None) -> str:
    quiz = result.quiz
    points = f"{format_points(result.points)} of {format_points(result.max_points)} points"
    verdict = "Passed" if result.passed else "Not passed"
    lines = [
        RULE,
        f"Score:  {points} ({result.percentage:.0f}%)",
        f"Result: {verdict} (pass mark {quiz.pass_mark * 100:.0f}%)",
    ]
    if note:
        lines.append(plain_text(note))
    return "\n".join(lines)


def review_screen(result: Result, show_answers: bool) -> str:
    """Each question as shown: your answer and, when the quiz shows them, the correct one, the
    feedback on what you chose and the explanation."""
    lines: list[str] = []
    if not show_answers:
        lines.append(_answers_held_back(result.quiz))
    for number, answer in enumerate(result.questions, start=1):
        lines += ["", *_review_question(result.quiz, answer, number, show_answers)]
    return "\n".join(lines)


def _answers_held_back(quiz: Quiz) -> str:
    if quiz.review == "after_close" and quiz.closes is not None:
        return (
            "The correct answers and explanations are shown once the quiz closes, at"
            f" {quiz.closes:%Y-%m-%d %H:%M} UTC; below are the answers you gave."
        )
    return "This quiz does not show the correct answers; below are the answers you gave."


def _review_question(
    quiz: Quiz, answer: QuestionResult, number: int, show_answers: bool
) -> list[str]:
    question, options = answer.question, answer.options_shown
    head = f"Question {number}"
    if show_answers:
        marks = f"{format_points(answer.points)} of {format_points(answer.max_points)} points"
        head += f": {answer.verdict} ({marks})"
    lines = [head, plain_text(question.text, TEXT_INDENT)]
    lines.append(_labels("Your answer:    ", options, answer.chosen))
    if not show_answers:
        return lines
    lines.append(_labels("Correct answer: ", options, question.correct_ids))
    if question.type == "multiple" and quiz.scoring == "all-or-nothing":
        lines.append(f"{TEXT_INDENT}All correct options were needed for the points.")
    lines += _feedback(options, answer.chosen)
    if question.explanation:
        lines.append(plain_text(question.explanation, TEXT_INDENT, f"{TEXT_INDENT}Explanation: "))
    return lines


def _labels(label: str, options: Sequence[Option], ids: Collection[str]) -> str:
    """``Your answer:    a) 25`` with one line per option of *ids* as shown (the label hangs),
    or ``(not answered)``."""
    hang = TEXT_INDENT + " " * len(label)
    labels = [
        plain_text(_one_line(option.text), hang + "   ", f"{hang}{LETTERS[n]}) ")
        for n, option in enumerate(options)
        if option.id in ids
    ] or [hang + "(not answered)"]
    labels[0] = TEXT_INDENT + label + labels[0][len(hang) :]
    return "\n".join(labels)


def _one_line(source: str) -> str:
    return " ".join(plain_text(source).split())


def _feedback(options: Sequence[Option], chosen: Collection[str]) -> Iterable[str]:
    for n, option in enumerate(options):
        if option.id in chosen and option.feedback:
            yield plain_text(option.feedback, TEXT_INDENT, f"{TEXT_INDENT}On {LETTERS[n]}): ")


def email_outcome(record: OutboxRecord) -> str:
    """What became of a results email, as the web's status page says it, facts included."""
    lines = [HEADINGS[record.state], plain_text(summary(record))]
    found = facts(record)
    width = max(len(fact.term) for fact in found) + 1
    lines += [f"  {fact.term + ':':<{width}} {visible(fact.value)}" for fact in found]
    lines.append(wrapped(NEXT_STEP[record.state]))
    return "\n".join(lines)


#: The next step after an email, in the session's own commands (the web's are links).
NEXT_STEP = {
    "sent": "If it does not arrive, look in your spam folder. Type transcript to see the SMTP"
    " dialogue.",
    "queued": "Type status to check again, transcript to see the SMTP dialogue.",
    "failed": "Type email with another address to try again, transcript to see the SMTP dialogue.",
}
