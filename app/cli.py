"""The ``quizmail`` command: ``quizmail --help`` lists every command."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="quizmail")
def main() -> None:
    """QuizMail: multiple-choice quizzes whose results are emailed by our own SMTP client."""


# --- check: validate quiz files ------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Validate quiz files (default: the configured questions directory).

    Every problem is printed as FILE:LINE: MESSAGE; the exit status is 1 when there is any.
    """
    from app.quiz import QuizFileError, load_quiz

    files = _quiz_paths(paths or (Path(_questions_dir()),))
    failed = 0
    for path in files:
        try:
            quiz = load_quiz(path)
        except QuizFileError as error:
            failed += 1
            for problem in error.problems:
                click.echo(str(problem), err=True)
        else:
            click.echo(f"{path}: ok ({len(quiz.questions)} questions, version {quiz.version})")
    click.echo(f"{len(files) - failed} of {len(files)} quiz files are valid.")
    if failed or not files:
        raise SystemExit(1)


def _questions_dir() -> str:
    from app.config import DEFAULTS, ENV_PREFIX

    return os.environ.get(f"{ENV_PREFIX}_QUESTIONS_DIR", DEFAULTS["QUESTIONS_DIR"])


def _quiz_paths(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; directories expand to the quiz files in them."""
    from app.quiz import quiz_files

    found: list[Path] = []
    for path in paths:
        found.extend(quiz_files(path) if path.is_dir() else [path])
    return found


# --- send: one message through our SMTP client -------------------------------------------------


# --- capture, serve, demo: the relay, the web app, both at once ----------------------------------


# --- mailbox: the captured mail without a browser ------------------------------------------------


# --- deliver: the outbox worker ------------------------------------------------------------------


@main.command()
@click.option("--once", is_flag=True, help="Make one pass over the outbox, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between passes.",
)
def deliver(once: bool, poll: float) -> None:
    """Send the messages waiting in the outbox, retrying with backoff.

    The relay and the outbox come from the configuration (QUIZMAIL_SMTP_HOST, QUIZMAIL_SMTP_PORT,
    QUIZMAIL_OUTBOX_DIR …). Several deliverers may share one outbox: none sends a message twice.
    """
    import contextlib
    import logging
    import signal

    from app import create_app
    from app.notify import Deliverer

    deliverer = Deliverer.from_config(create_app().config, poll_seconds=poll)
    relay = f"{deliverer.relay.host}:{deliverer.relay.port}"
    progress = logging.getLogger("app.notify")  # one line per delivery attempt
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    try:
        if once:
            deliverer.run_once()
        else:
            click.echo(
                f"Delivering from {deliverer.outbox.root} to {relay}; Ctrl-C stops.", err=True
            )
            signal.signal(signal.SIGTERM, lambda *_: deliverer.stop())
            with contextlib.suppress(KeyboardInterrupt):
                deliverer.run_forever()
    finally:
        progress.removeHandler(handler)
    counts = deliverer.outbox.counts()
    click.echo(
        f"outbox: {counts['queued']} queued, {counts['sent']} sent, {counts['failed']} failed"
    )
