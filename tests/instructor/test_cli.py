import csv
import io
from pathlib import Path

from flask.testing import FlaskCliRunner

from app.cli import main
from app.mailstore import MailStore

from .helpers import build_message, email_message, results_email, results_payload


def test_list_shows_newest_first(runner: FlaskCliRunner, store: MailStore) -> None:
    store.deliver(["ada@example.org"], build_message(subject="First"))
    store.deliver(["bob@example.org"], build_message(subject="Second"))
    result = runner.invoke(main, ["mailbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "RECEIVED", "MAILBOX", "FROM", "SUBJECT"]
    assert [line.split("\t")[-1] for line in lines[1:]] == ["Second", "First"]


def test_list_filters_by_recipient_and_search(runner: FlaskCliRunner, store: MailStore) -> None:
    store.deliver(["ada@example.org"], build_message(subject="Alpha", text="needle"))
    store.deliver(["ada@example.org"], build_message(subject="Beta"))
    store.deliver(["bob@example.org"], build_message(subject="Gamma", text="needle"))
    result = runner.invoke(
        main, ["mailbox", "list", "--to", "ada@example.org", "--search", "needle"]
    )
    assert [line.split("\t")[-1] for line in result.stdout.splitlines()[1:]] == ["Alpha"]


def test_list_reads_another_directory(runner: FlaskCliRunner, tmp_path: Path) -> None:
    other = MailStore(tmp_path / "elsewhere")
    other.deliver(["ada@example.org"], build_message(subject="Elsewhere"))
    result = runner.invoke(main, ["mailbox", "list", "--mailbox", str(tmp_path / "elsewhere")])
    assert result.stdout.splitlines()[1].endswith("\tElsewhere")


def test_a_missing_mailbox_directory_is_reported_not_created(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "typo"
    result = runner.invoke(main, ["mailbox", "list", "--mailbox", str(missing)])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not missing.exists()


def test_list_limit_must_be_positive(runner: FlaskCliRunner, store: MailStore) -> None:
    result = runner.invoke(main, ["mailbox", "list", "--limit", "-1"])
    assert result.exit_code == 2
    assert "-1 is not in the range x>=1" in result.output


def test_show_prints_headers_text_and_attachments(runner: FlaskCliRunner, store: MailStore) -> None:
    raw = build_message(
        subject="Results", text="8 of 10", attachments=(("results.csv", "text/csv", b"a,b\n"),)
    )
    (message_id,) = store.deliver(["ada@example.org"], raw)
    result = runner.invoke(main, ["mailbox", "show", message_id])
    assert result.exit_code == 0, result.output
    assert "Subject: Results" in result.stdout
    assert "8 of 10" in result.stdout
    assert "Attachment 0: results.csv (text/csv, 4 bytes)" in result.stdout


def test_show_lists_an_attached_email(runner: FlaskCliRunner, store: MailStore) -> None:
    inner = email_message("Original results")
    (message_id,) = store.deliver(["ada@example.org"], build_message(attached_messages=(inner,)))
    result = runner.invoke(main, ["mailbox", "show", message_id])
    assert result.exit_code == 0, result.output
    size = len(inner.as_bytes())
    assert f"Attachment 0: Original results.eml (message/rfc822, {size} bytes)" in result.stdout


def test_show_raw_prints_the_stored_bytes(runner: FlaskCliRunner, store: MailStore) -> None:
    raw = build_message(subject="Raw")
    (message_id,) = store.deliver(["ada@example.org"], raw)
    result = runner.invoke(main, ["mailbox", "show", message_id, "--raw"])
    assert result.stdout_bytes == store.get_bytes(message_id)


def test_show_unknown_id_fails_clearly(runner: FlaskCliRunner, store: MailStore) -> None:
    result = runner.invoke(main, ["mailbox", "show", "no-such-id"])
    assert result.exit_code == 1
    assert "No message 'no-such-id'" in result.output
    assert "Traceback" not in result.output


def test_export_gradebook(runner: FlaskCliRunner, store: MailStore, tmp_path: Path) -> None:
    for attempt, points in (("a1", 4.0), ("a2", 9.0)):
        payload = results_payload(attempt_id=attempt, points=points)
        store.deliver(["ada@example.org", "teacher@example.org"], results_email(payload))
    store.deliver(["ada@example.org"], build_message(subject="Not results"))
    target = tmp_path / "grades.csv"
    result = runner.invoke(main, ["mailbox", "export", "--gradebook", str(target)])
    assert result.exit_code == 0, result.output
    assert "2 gradebook rows written" in result.output
    table = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    attempt_id = table[0].index("attempt_id")
    assert sorted(row[attempt_id] for row in table[1:]) == ["a1", "a2"]
