"""The ``quizmail`` command: ``quizmail --help`` lists every command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import click
from flask.cli import ScriptInfo

from app import create_app, gradebook
from app.mailstore import MailStore
from app.message_view import parse_message, utc_text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="quizmail")
def main() -> None:
    """QuizMail: multiple-choice quizzes whose results are emailed by our own SMTP client."""


# --- check: validate quiz files ------------------------------------------------------------------


# --- send: one message through our SMTP client -------------------------------------------------


# --- capture, serve, demo: the relay, the web app, both at once ----------------------------------


# --- mailbox: the captured mail without a browser ------------------------------------------------


def _mailbox_store(mailbox_dir: Path | None) -> MailStore:
    """The store under *mailbox_dir*, else under the configured ``MAILBOX_DIR``."""
    if mailbox_dir is None:
        info = click.get_current_context().find_object(ScriptInfo)
        app = info.load_app() if info is not None else create_app()
        mailbox_dir = Path(app.config["MAILBOX_DIR"])
    return MailStore(mailbox_dir)


mailbox_dir_option = click.option(
    "--mailbox",
    "mailbox_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The captured mail directory (default: the configured MAILBOX_DIR).",
)


@main.group()
def mailbox() -> None:
    """The captured mail without a browser: list, show, export the gradebook."""


@mailbox.command("list")
@mailbox_dir_option
@click.option("--to", "recipient", metavar="ADDR", help="Only the mailbox of this recipient.")
@click.option("--search", metavar="TEXT", help="Find TEXT in sender, recipients, subject or text.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
def mailbox_list(
    mailbox_dir: Path | None, recipient: str | None, search: str | None, limit: int
) -> None:
    """List captured messages, newest first (tab-separated, with a header line)."""
    store = _mailbox_store(mailbox_dir)
    click.echo("\t".join(("ID", "RECEIVED", "MAILBOX", "FROM", "SUBJECT")))
    for summary in store.search(to=recipient, text=search, limit=limit):
        columns = (summary.id, utc_text(summary.received_at), summary.recipient, summary.sender)
        click.echo("\t".join((*columns, summary.subject)))
    total = store.count(to=recipient, text=search)
    click.echo(f"{min(total, limit)} of {total} messages shown.", err=True)


@mailbox.command("show")
@mailbox_dir_option
@click.argument("message_id")
@click.option("--raw", is_flag=True, help="The message exactly as stored (RFC 5322 bytes).")
def mailbox_show(mailbox_dir: Path | None, message_id: str, raw: bool) -> None:
    """Show one message: headers, text part and attachments (ids come from `mailbox list`)."""
    store = _mailbox_store(mailbox_dir)
    try:
        data = store.get_bytes(message_id)
    except (KeyError, FileNotFoundError, ValueError):
        raise click.ClickException(
            f"No message {message_id!r} in the captured mail; `quizmail mailbox list` shows ids."
        ) from None
    if raw:
        sys.stdout.buffer.write(data)
        return
    view = parse_message(data)
    for name, value in view.headers:
        click.echo(f"{name}: {value}")
    click.echo()
    click.echo(view.text if view.text is not None else "(no text part; --raw shows the source)")
    for a in view.attachments:
        click.echo(f"Attachment {a.index}: {a.filename} ({a.content_type}, {a.size} bytes)")


@mailbox.command("export")
@mailbox_dir_option
@click.option(
    "--gradebook",
    "csv_file",
    required=True,
    type=click.File("wb", lazy=True),
    metavar="FILE.csv",
    help="Write the gradebook (one row per results email) as CSV; - for standard output.",
)
def mailbox_export(mailbox_dir: Path | None, csv_file: BinaryIO) -> None:
    """Export the gradebook built from the captured results emails."""
    rows = gradebook.read_store(_mailbox_store(mailbox_dir))
    csv_file.write(gradebook.to_csv(rows).encode("utf-8"))
    click.echo(f"{len(rows)} gradebook rows written to {csv_file.name}.", err=True)


# --- deliver: the outbox worker ------------------------------------------------------------------
