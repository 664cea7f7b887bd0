"""One telnet session's dialogue, sans-IO: lines in, what to say (and what to do) out.

A session lists the quizzes, takes one chosen by number, asks its questions in the attempt's order
(:class:`~app.quiz.attempts.AttemptMaker`, the web's derivation), lists what is unanswered before
grading, grades once, shows the score and the review, and can then email the results. The
dialogue never touches a socket, a clock or the mail: the clock is given, and an email is an
action (:class:`SendEmail`, :class:`CheckEmail`) that the driver carries out and reports back
(:meth:`Dialogue.emailed`, :meth:`Dialogue.email_refused`).

The time limit is the server's, as on the web: an answer given after the deadline and its grace
(:func:`~app.quiz.attempts.is_late`) is not taken, and a submission that late grades the answers
given in time, as of when the last of them was given (:func:`~app.quiz.attempts.late_grading`);
the driver calls :meth:`Dialogue.time_up` once the deadline passes while the client is silent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.address_typos import suggest_address
from app.explain import explain, format_steps
from app.outbox import OutboxRecord
from app.quiz import Attempt, Quiz, Result, grade
from app.quiz.attempts import (
    LATE_GRACE,
    AttemptMaker,
    encode_answers,
    is_late,
    late_grading,
)
from app.report import Student
from app.results_mail import FormProblem, SendRefused, student_from_form
from app.telnet import screens
from app.telnet.plain import wrapped
from app.words import visible

__all__ = ["CheckEmail", "Dialogue", "Say", "SendEmail"]

#: Empty lines in a row before the session is closed: nobody presses Enter this often by hand.
MAX_BLANK_LINES = 100
#: Longest answer or command echoed back in a complaint, in characters.
ECHO_CHARS = 40
_SEPARATORS = re.compile(r"[\s,;]+")

NO_EMAIL_YET = "No results email has been sent from this session yet."
PROMPTS = {"menu": "quiz> ", "question": "answer> ", "summary": "submit> ", "results": "results> "}
HELP = {
    "menu": "Type the number of a quiz to start it. quit leaves.",
    "question": (
        "Type the letter of your answer (a, b …); for 'select all that apply' type every letter"
        " that applies, such as a c. back goes to the previous question, skip to the next one"
        " (an answer given before stays), submit to the summary before grading, quit leaves"
        " without grading."
    ),
    "summary": (
        "submit grades your answers; a question number goes back to that question; back goes"
        " to the last question; quit leaves without grading."
    ),
    "results": (
        "email ADDRESS [NAME] emails you these results (the same email as the web's button);"
        " transcript shows the SMTP dialogue of the last email (transcript explain says what each"
        " line means and the RFC behind it); status checks on an email that"
        " is waiting; review shows the results again; again lists the quizzes; quit leaves."
    ),
}


@dataclass(frozen=True)
class Say:
    """Text for the client (lines end in ``\\n``), then the prompt; *close* ends the session."""

    text: str
    close: bool = False


@dataclass(frozen=True)
class SendEmail:
    """Email *result* to *student* within the limits, then report to the dialogue."""

    result: Result
    student: Student


@dataclass(frozen=True)
class CheckEmail:
    """Look up the outbox record *record_id* again, then report it to :meth:`Dialogue.emailed`."""

    record_id: str


Action = Say | SendEmail | CheckEmail


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Taking:
    """A quiz under way: the attempt, the answers given (question id → option ids, in the order
    shown), when they last changed (the server's clock, seconds since the epoch) and where the
    student is."""

    quiz: Quiz
    attempt: Attempt
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    saved_at: float | None = None
    position: int = 0

    @property
    def count(self) -> int:
        return len(self.attempt.question_ids)

    @property
    def deadline(self) -> datetime | None:
        return self.attempt.deadline(self.quiz)

    def is_late(self, now: datetime) -> bool:
        return is_late(self.quiz, self.attempt, now)

    def screen(self, now: datetime) -> str:
        """The current question, its answer so far and the time left."""
        qid = self.attempt.question_ids[self.position]
        left = None if self.deadline is None else self.deadline - now
        return screens.question_screen(
            self.quiz, self.attempt, self.position, self.answers.get(qid, ()), left
        )

    def late(self) -> tuple[Result, str]:
        """Graded past the time limit: what was answered in time, as the web grades it, and
        the note that says so."""
        saved = encode_answers(self.attempt, self.answers) if self.saved_at else None
        late = late_grading(self.quiz, self.attempt, saved, self.saved_at)
        return grade(self.quiz, self.attempt, late.answers, late.graded_at), late.note


class Dialogue:
    """The state of one session: which quiz, which question, the answers, the result."""

    def __init__(
        self,
        quizzes: Callable[[], Mapping[str, Quiz]],
        attempts: AttemptMaker,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._quizzes, self._attempts, self.clock = quizzes, attempts, clock
        self.stage = "menu"
        self._listed: list[Quiz] = []
        self.taking: Taking | None = None
        self.result: Result | None = None
        self.record: OutboxRecord | None = None
        self._typo_checked: str | None = None  # an address the student was asked about
        self._blank_lines = 0

    # --- what the driver calls ------------------------------------------------------------------

    def start(self) -> Say:
        return self._say(
            "Welcome to QuizMail. Take a quiz here; at the end you can email yourself the"
            " results.\n" + self._menu()
        )

    @property
    def prompt(self) -> str:
        return PROMPTS[self.stage]

    def receive(self, line: str) -> Action:
        """What to do about one line the client typed."""
        text = line.strip()
        if not text:
            self._blank_lines += 1
            if self._blank_lines > MAX_BLANK_LINES:
                return Say("Closing: too many empty lines in a row.\n", close=True)
            return Say("")
        self._blank_lines = 0
        word, _, rest = text.partition(" ")
        command = word.lower()
        if command == "quit":
            return self.quit()
        if command == "help":
            return self._tell(HELP[self.stage])
        if self.taking is not None and self.taking.is_late(self.clock()):
            return self.time_up()
        return STAGES[self.stage](self, command, rest.strip(), text)

    def refused(self, reason: str) -> Say:
        """A line the wire would not read (too long, not UTF-8): say why, and carry on."""
        self._blank_lines = 0
        return self._tell(reason)

    def quit(self) -> Say:
        if self.stage in ("question", "summary"):
            return Say("Bye. The quiz was not submitted, so it was not graded.\n", close=True)
        return Say("Bye.\n", close=True)

    def wake_at(self) -> datetime | None:
        """When :meth:`time_up` is due (deadline and grace), while a timed quiz is under way."""
        deadline = self.taking.deadline if self.taking is not None else None
        return None if deadline is None else deadline + LATE_GRACE

    def time_up(self) -> Say:
        """Past the time limit: grade what was answered in time, as the web does."""
        return self._graded(*self._taking().late())

    def emailed(self, record: OutboxRecord | None) -> Say:
        """What became of the email (or of the one checked on with ``status``)."""
        if record is None:
            return self._tell("That email is no longer in the outbox; it was sent long ago.")
        self.record = record
        return self._say(screens.email_outcome(record))

    def email_refused(self, refused: SendRefused) -> Say:
        return self._tell(f"{refused.title}. {refused.message}")

    # --- stages ---------------------------------------------------------------------------------

    def _menu_line(self, command: str, rest: str, text: str) -> Action:
        if not text.isdigit() or not 1 <= int(text) <= len(self._listed):
            if not self._listed:
                return self._tell("There are no quizzes to take yet.")
            return self._tell(
                f"{_echo(text)} is not a quiz number: type a number from 1 to {len(self._listed)}."
            )
        return self._begin(self._listed[int(text) - 1])

    def _question_line(self, command: str, rest: str, text: str) -> Action:
        assert self.taking is not None
        if command == "back":
            if self.taking.position == 0:
                return self._say("This is the first question.", self.taking.screen(self.clock()))
            return self._go(self.taking.position - 1)
        if command == "skip":
            return self._next()
        if command == "submit":
            return self._summary()
        return self._answer(text)

    def _summary_line(self, command: str, rest: str, text: str) -> Action:
        assert self.taking is not None
        count = self.taking.count
        if command == "submit":
            return self._graded(grade(*self._taken(), self.taking.answers, self.clock()))
        if command == "back":
            return self._go(count - 1)
        if text.isdigit() and 1 <= int(text) <= count:
            return self._go(int(text) - 1)
        return self._tell(f"Type submit, or a question number from 1 to {count} to go back to it.")

    def _results_line(self, command: str, rest: str, text: str) -> Action:
        assert self.result is not None
        after = AFTER_GRADING.get(command)
        if after is not None:
            return after(self, rest)
        return self._tell(
            f"{_echo(text)} is not a command here: email ADDRESS [NAME], transcript, status,"
            " review, again or quit (help says more)."
        )

    def _status(self, rest: str) -> Action:
        if self.record is None:
            return self._tell(NO_EMAIL_YET)
        return CheckEmail(self.record.id)

    def _review(self, rest: str) -> Say:
        assert self.result is not None
        return self._say(self._results_text(self.result))

    def _again(self, rest: str) -> Say:
        self.stage, self.result, self.record = "menu", None, None
        return self._say(self._menu())

    # --- taking the quiz ------------------------------------------------------------------------

    def _begin(self, quiz: Quiz) -> Action:
        now = self.clock()
        if quiz.is_closed(now):
            assert quiz.closes is not None
            return self._tell(
                f"This quiz closed at {quiz.closes:%Y-%m-%d %H:%M} UTC, so no new attempts can"
                " begin. Pick another."
            )
        self.taking = Taking(quiz, self._attempts.start(quiz, now))
        self.stage = "question"
        return self._say(screens.quiz_heading(quiz), self.taking.screen(now))

    def _answer(self, text: str) -> Action:
        taking = self._taking()
        question = taking.quiz.question(taking.attempt.question_ids[taking.position])
        option_ids = taking.attempt.option_ids[taking.position]
        last = screens.LETTERS[len(option_ids) - 1]
        letters = letters_in(text)
        if letters is None:
            return self._tell(
                f"{_echo(text)} is not an answer: type a letter from a to {last}, or help."
            )
        wrong = [letter for letter in letters if screens.LETTERS.index(letter) >= len(option_ids)]
        if wrong:
            return self._tell(f"There is no option {wrong[0]}) here: type a letter a to {last}.")
        if len(letters) > 1 and question.type != "multiple":
            return self._tell("This question takes one answer: type one letter.")
        chosen = {option_ids[screens.LETTERS.index(letter)] for letter in letters}
        taking.answers[question.id] = tuple(oid for oid in option_ids if oid in chosen)
        taking.saved_at = self.clock().timestamp()
        return self._next()

    def _next(self) -> Action:
        taking = self._taking()
        if taking.position + 1 < taking.count:
            return self._go(taking.position + 1)
        return self._summary()

    def _go(self, position: int) -> Say:
        taking = self._taking()
        self.stage, taking.position = "question", position
        return self._say(taking.screen(self.clock()))

    def _summary(self) -> Say:
        taking = self._taking()
        self.stage = "summary"
        return self._say(screens.summary_screen(taking.quiz, taking.attempt, taking.answers))

    def _graded(self, result: Result, note: str | None = None) -> Say:
        """Graded once: from here on the answers cannot change."""
        self.stage, self.result, self.record, self.taking = "results", result, None, None
        return self._say(self._results_text(result, note), wrapped(HELP["results"]))

    def _results_text(self, result: Result, note: str | None = None) -> str:
        return screens.results_screen(result, result.quiz.shows_answers(self.clock()), note)

    def _taking(self) -> Taking:
        assert self.taking is not None
        return self.taking

    def _taken(self) -> tuple[Quiz, Attempt]:
        taking = self._taking()
        return taking.quiz, taking.attempt

    # --- after grading --------------------------------------------------------------------------

    def _email(self, rest: str) -> Action:
        assert self.result is not None
        address, _, name = rest.partition(" ")
        if not address:
            return self._tell(
                "Type email and your address, and your name if you like:"
                " email ada@example.org Ada Lovelace"
            )
        try:
            student = student_from_form({"email": address, "name": name})
        except FormProblem as problem:
            return self._tell(visible(str(problem)))
        suggestion = suggest_address(student.email)
        if suggestion is not None and self._typo_checked != student.email:
            self._typo_checked = student.email
            return self._tell(
                f"Did you mean {suggestion}? Type email {suggestion} to use it, or the same"
                f" command again to send to {student.email} as typed."
            )
        return SendEmail(self.result, student)

    def _transcript(self, rest: str) -> Say:
        """The last email's SMTP dialogue; ``transcript explain`` says what each line means and
        the RFC section behind it, as ``quizmail send -v --explain`` and the web's page do."""
        if self.record is None:
            return self._tell(NO_EMAIL_YET)
        dialogue = list(self.record.transcript)
        if rest.lower() == "explain":
            dialogue = format_steps(explain(dialogue))
        lines = [f"  {visible(line)}" for line in dialogue]
        return self._say("\n".join(lines) or "  (the relay was not reached)")

    # --- words ----------------------------------------------------------------------------------

    def _menu(self) -> str:
        self._listed = sorted(self._quizzes().values(), key=lambda quiz: quiz.title)
        return screens.quiz_list(self._listed, self.clock())

    def _say(self, *parts: str) -> Say:
        """Say *parts* (screens, or a message wrapped here), each ending a line."""
        return Say("".join(f"{part}\n" for part in parts if part))

    def _tell(self, message: str) -> Say:
        return self._say(wrapped(message))


def letters_in(text: str) -> list[str] | None:
    """The option letters of an answer — ``b``, ``A c``, ``a,c``, ``ac`` — or None when *text*
    is no answer (a word, or a letter given twice)."""
    words = [word for word in _SEPARATORS.split(text.lower()) if word]
    letters = "".join(words)
    if not all(len(word) == 1 for word in words) and len(words) > 1:
        return None
    if not letters.isascii() or not letters.isalpha() or len(set(letters)) != len(letters):
        return None
    return list(letters)


def _echo(text: str) -> str:
    """What the client typed, quoted, shortened and made safe to print back."""
    short = text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"
    return f"“{visible(short)}”"


#: The commands once the quiz is graded (quit and help aside).
AFTER_GRADING: dict[str, Callable[[Dialogue, str], Action]] = {
    "email": Dialogue._email,
    "transcript": Dialogue._transcript,
    "status": Dialogue._status,
    "review": Dialogue._review,
    "again": Dialogue._again,
}

#: What a line means in each stage (quit and help mean the same everywhere).
STAGES: dict[str, Callable[[Dialogue, str, str, str], Action]] = {
    "menu": Dialogue._menu_line,
    "question": Dialogue._question_line,
    "summary": Dialogue._summary_line,
    "results": Dialogue._results_line,
}
