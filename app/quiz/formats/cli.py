"""``quizmail import`` and ``quizmail export``: question banks from and to Moodle's formats.

Every problem is printed as ``FILE:LINE: message``, as ``quizmail check`` prints them. Exit
status: 0 when every question came over as it was, 1 when the quiz was written but some questions
were skipped or changed (each one listed), 2 when nothing could be written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from app.durable import replace_durably
from app.quiz.formats.aiken import read_aiken
from app.quiz.formats.draft import Conversion, quiz_file, quiz_id_from
from app.quiz.formats.gift import read_gift, write_gift
from app.quiz.loader import QuizFileError, read_quiz
from app.quiz.versions import MAX_SOURCE_BYTES
from app.words import counted

__all__ = ["export_command", "import_command"]

READERS: dict[str, Callable[[bytes, str], Conversion]] = {"gift": read_gift, "aiken": read_aiken}
#: A quiz file holds at most this much (app/quiz/versions.py), and a GIFT or Aiken file takes
#: about as many bytes as the quiz file made of it; anything bigger is refused before reading.
MAX_IMPORT_BYTES = MAX_SOURCE_BYTES
AIKEN_ANSWER_LINE = b"\nANSWER:"


class NothingWritten(click.ClickException):
    exit_code = 2


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "source_format",
    type=click.Choice(sorted(READERS)),
    help="The files' format (default: by extension; .txt files holding ANSWER: lines are Aiken).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The quiz file to write, e.g. questions/networks.yaml (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def import_command(
    files: tuple[Path, ...], source_format: str | None, output: Path | None, force: bool
) -> None:
    """Convert GIFT or Aiken files (Moodle's question formats) into one quiz file.

    Multiple-choice, multiple-answer and true/false questions come over with their feedback;
    what has no equivalent is reported as FILE:LINE: skipped: … and left out.
    """
    if output is not None and output.exists() and not force:
        raise NothingWritten(f"{output}: exists already (--force replaces it)")
    conversion = Conversion()
    for path in files:
        conversion.extend(_read(path, source_format))
    quiz_id = quiz_id_from(output.stem if output else files[0].stem)
    result = quiz_file(conversion, quiz_id)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.quiz is None or not result.quiz.questions:
        raise NothingWritten("nothing written: no question could be imported")
    if output is None:
        sys.stdout.buffer.write(result.data)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(output, result.data)
    where = output or "standard output"
    imported = counted(len(result.quiz.questions), "question")
    click.echo(
        f"{where}: {imported} imported ({counted(len(result.problems), 'problem')}).", err=True
    )
    if result.problems:
        raise SystemExit(1)


def _read(path: Path, source_format: str | None) -> Conversion:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            limit = MAX_IMPORT_BYTES // (1024 * 1024)
            raise NothingWritten(
                f"{path}:1: {size / 2**20:.1f} MiB is more than a quiz file holds (at most"
                f" {limit} MiB): split the questions into several files"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise NothingWritten(f"{path}:1: cannot read: {exc.strerror}") from None
    return READERS[source_format or _guess_format(path, data)](data, str(path))


def _guess_format(path: Path, data: bytes) -> str:
    if path.suffix.lower() == ".gift":
        return "gift"
    has_answers = AIKEN_ANSWER_LINE in b"\n" + data.replace(b"\r", b"\n")
    return "aiken" if has_answers and b"{" not in data else "gift"


@click.command("export")
@click.argument("quiz_path", metavar="QUIZ", type=click.Path(path_type=Path))
@click.option(
    "--format", "target_format", type=click.Choice(["gift"]), default="gift", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: standard output).",
)
def export_command(quiz_path: Path, target_format: str, output: Path | None) -> None:
    """Convert a quiz file into Moodle's GIFT format (for Moodle's question bank import).

    What GIFT cannot hold (points, time limits, pass mark…) is listed and left out.
    """
    try:
        quiz = read_quiz(quiz_path).quiz
    except QuizFileError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        raise NothingWritten(f"{quiz_path}: not a valid quiz file: nothing written") from None
    text, notes = write_gift(quiz, str(quiz_path))
    for note in notes:
        click.echo(note, err=True)
    data = text.encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        replace_durably(output, data)
        click.echo(f"{output}: {counted(len(quiz.questions), 'question')} exported.", err=True)
