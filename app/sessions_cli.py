"""``quizmail sessions list|show``: the capture server's session log in a terminal, or as JSON.

Everything printed from a session is shown as recorded (escaped: app.store.session_record) and
passed through :func:`app.words.visible`, so no peer's bytes reach the terminal as controls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.words import counted, visible

if TYPE_CHECKING:
    from app.store.session_record import SessionRecord

__all__ = ["sessions_command"]

#: More sessions than any log keeps, within SQLite's integers.
MAX_LIST_LIMIT = 10**9
MAX_CANDIDATES = 10
#: app.store.session_record.OUTCOMES, written out: `quizmail --help` imports no store.
OUTCOMES = ("accepted", "refused", "broken off", "no mail")

mailbox_option = click.option(
    "--mailbox",
    "mailbox_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The captured mail directory (default: the configured MAILBOX_DIR).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead.")


@click.group("sessions")
def sessions_command() -> None:
    """The SMTP sessions the capture server took: list them, show one with its findings."""


@sessions_command.command("list")
@mailbox_option
@click.option("--peer", metavar="ADDRESS", help="Only sessions from this client address.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only sessions that ended so.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, MAX_LIST_LIMIT),
    help="At most this many, newest first.",
)
@json_option
def sessions_list(
    mailbox_dir: Path | None, peer: str | None, outcome: str | None, limit: int, as_json: bool
) -> None:
    """List sessions, newest first (tab-separated with a header line, or --json).

    MUST and SHOULD count the rules the client broke; `sessions show` accepts the start of an ID.
    """
    from app.conformance import check
    from app.store.message_view import utc_text

    log = _session_log(mailbox_dir)
    rows = []
    for summary in log.search(peer, outcome, limit):
        try:
            report = check(log.get(summary.id))
            must, should = str(report.must), str(report.should)
        except (KeyError, ValueError):
            must = should = "?"
        rows.append(
            {
                "id": summary.id,
                "started": summary.started.isoformat(),
                "peer": summary.peer,
                "outcome": summary.outcome,
                "messages": summary.messages,
                "lines": summary.lines,
                "must": must,
                "should": should,
                "shown_started": utc_text(summary.started),
            }
        )
    if as_json:
        for row in rows:
            row.pop("shown_started")
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo("\t".join(("ID", "STARTED", "PEER", "OUTCOME", "MESSAGES", "MUST", "SHOULD")))
    for row in rows:
        columns = (row["id"], row["shown_started"], visible(row["peer"]), row["outcome"])
        click.echo("\t".join((*columns, str(row["messages"]), row["must"], row["should"])))
    total = log.count(peer, outcome)
    click.echo(f"{min(total, limit)} of {counted(total, 'session')} shown.", err=True)


@sessions_command.command("show")
@mailbox_option
@click.argument("session_id")
@click.option("--explain", is_flag=True, help="Explain each line, with the RFC section behind it.")
@json_option
def sessions_show(mailbox_dir: Path | None, session_id: str, explain: bool, as_json: bool) -> None:
    """Show one session: what happened, what the client did wrong, the dialogue.

    SESSION_ID is an id from `sessions list`, or enough of its start to name one session.
    """
    from app.conformance import check

    log = _session_log(mailbox_dir)
    found = _session_id(log, session_id)
    try:
        record = log.get(found)
    except KeyError:
        raise click.ClickException(_no_session(session_id)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = check(record)
    if as_json:
        data = {"session": record.to_json(), "conformance": report.to_json()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for line in _facts(record):
        click.echo(visible(line))
    click.echo()
    click.echo(f"Findings: {report.must} MUST, {report.should} SHOULD")
    for finding in report.findings:
        where = f" (lines {', '.join(map(str, finding.lines))})" if finding.lines else ""
        click.echo(
            visible(f"  {finding.rule.level} {finding.rule.reference}: {finding.what}{where}")
        )
    for text in report.unknown:
        click.echo(visible(f"  cannot know: {text}"))
    click.echo()
    if explain:
        from app.explain import explain as explain_lines
        from app.explain import format_steps

        for text in format_steps(explain_lines(record.transcript)):
            click.echo(visible(text))
    else:
        for number, line in enumerate(record.lines, 1):
            click.echo(visible(f"{number:4} {line.at:9.3f} {line.transcript}"))
    if record.lines_dropped:
        click.echo(f"… and {counted(record.lines_dropped, 'line')} more, not kept.")


def _facts(record: SessionRecord) -> list[str]:
    from app.store.message_view import utc_text

    return [
        f"Session:  {record.id}",
        f"Client:   {record.peer} port {record.port}",
        f"Started:  {utc_text(record.started)} ({record.duration:.3f} s)",
        f"Outcome:  {record.outcome} (ended: {record.ended_by})",
        f"Messages: {', '.join(record.message_ids) or 'none stored'}",
    ]


def _session_log(mailbox_dir: Path | None) -> Any:
    from app.store.sessions import SessionLog

    if mailbox_dir is None:
        from app import create_app

        mailbox_dir = Path(create_app().config["MAILBOX_DIR"])
    return SessionLog(mailbox_dir)


def _session_id(log: Any, given: str) -> str:
    candidates = log.ids_starting_with(given, limit=MAX_CANDIDATES + 1)
    if not candidates:
        raise click.ClickException(_no_session(given))
    if candidates[0] == given or len(candidates) == 1:
        return str(candidates[0])
    listing = "".join(f"\n  {c}" for c in candidates[:MAX_CANDIDATES])
    raise click.ClickException(
        f"{given!r} is the start of more than one session id; give more of it:{listing}"
    )


def _no_session(given: str) -> str:
    return f"No session {given!r} in the session log; `quizmail sessions list` shows ids."
