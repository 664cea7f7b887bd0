"""The ``quizmail`` command: ``quizmail --help`` lists every command."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="quizmail")
def main() -> None:
    """QuizMail: multiple-choice quizzes whose results are emailed by our own SMTP client."""


# --- check: validate quiz files ------------------------------------------------------------------


# --- send: one message through our SMTP client -------------------------------------------------


# --- capture, serve, demo: the relay, the web app, both at once ----------------------------------


# --- mailbox: the captured mail without a browser ------------------------------------------------


# --- deliver: the outbox worker ------------------------------------------------------------------


# --- pop3: the captured mailboxes over POP3 (docs/pop3.md) ---------------------------------------

from app.pop3.cli import pop3_command, pop3_hash_command  # noqa: E402

main.add_command(pop3_command)
main.add_command(pop3_hash_command)
