import csv
import io
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner

from app.cli import main
from app.store import MailStore
from app.store.message_view import human_size

from .helpers import build_message, email_message, results_email, results_payload


def test_list_shows_newest_first(runner: FlaskCliRunner, store: MailStore) -> None:
    store.deliver(["ada@example.org"], build_message(subject="First"))
    store.deliver(["bob@example.org"], build_message(subject="Second"))
    result = runner.invoke(main, ["mailbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "RECEIVED", "MAILBOX", "FROM", "SIZE", "SUBJECT"]
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
    assert "-1 is not in the range 1<=x<=1000000000" in result.output


def test_show_prints_headers_text_and_attachments(runner: FlaskCliRunner, store: MailStore) -> None:
    raw = build_message(
        subject="Results", text="8 of 10", attachments=(("results.csv", "text/csv", b"a,b\n"),)
    )
    (message_id,) = store.deliver(["ada@example.org"], raw)
    result = runner.invoke(main, ["mailbox", "show", message_id])
    assert result.exit_code == 0, result.output
    assert "Subject: Results" in result.stdout
    assert "8 of 10" in result.stdout
    assert "Attachment 0: results.csv (text/csv, 4 B)" in result.stdout


def test_show_lists_an_attached_email(runner: FlaskCliRunner, store: MailStore) -> None:
    inner = email_message("Original results")
    (message_id,) = store.deliver(["ada@example.org"], build_message(attached_messages=(inner,)))
    result = runner.invoke(main, ["mailbox", "show", message_id])
    assert result.exit_code == 0, result.output
    size = human_size(len(inner.as_bytes()))
    assert f"Attachment 0: Original results.eml (message/rfc822, {size})" in result.stdout


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


def test_list_shows_sizes_and_counts_in_the_singular(
    runner: FlaskCliRunner, store: MailStore
) -> None:
    (message_id,) = store.deliver(["ada@example.org"], build_message(text="x" * 3000))
    result = runner.invoke(main, ["mailbox", "list"])
    (row,) = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    assert row[4] == human_size(store.summary(message_id).size)
    assert row[4].endswith(" KiB")
    assert "1 of 1 message shown." in result.stderr


def test_list_counts_in_the_plural(runner: FlaskCliRunner, store: MailStore) -> None:
    for _ in range(3):
        store.deliver(["ada@example.org"], build_message())
    assert (
        "2 of 3 messages shown." in runner.invoke(main, ["mailbox", "list", "--limit", "2"]).stderr
    )
    assert (
        "0 of 0 messages shown." in runner.invoke(main, ["mailbox", "list", "--to", "x@y"]).stderr
    )


def test_list_to_ignores_the_case_of_the_address(runner: FlaskCliRunner, store: MailStore) -> None:
    store.deliver(["ada@example.org"], build_message(subject="Lower"))
    store.deliver(["ADA@Example.ORG"], build_message(subject="Upper"))
    store.deliver(["bob@example.org"], build_message(subject="Bob"))
    result = runner.invoke(main, ["mailbox", "list", "--to", "Ada@EXAMPLE.org"])
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    assert sorted(row[-1] for row in rows) == ["Lower", "Upper"]
    assert {row[2] for row in rows} == {"ada@example.org"}


def common_start(ids: list[str]) -> str:
    """The longest string every one of *ids* starts with."""
    first, last = min(ids), max(ids)
    length = next((i for i in range(len(first)) if first[i] != last[i]), len(first))
    return first[:length]


def _two_messages(store: MailStore) -> tuple[str, str]:
    first, second = (store.deliver(["ada@example.org"], build_message(subject=s))[0] for s in "12")
    return first, second


def test_show_accepts_the_start_of_an_id(runner: FlaskCliRunner, store: MailStore) -> None:
    first, second = _two_messages(store)
    unique = first[: len(common_start([first, second])) + 1]
    result = runner.invoke(main, ["mailbox", "show", unique])
    assert result.exit_code == 0, result.output
    assert "Subject: 1" in result.stdout


def test_show_names_the_ids_an_ambiguous_start_could_mean(
    runner: FlaskCliRunner, store: MailStore
) -> None:
    first, second = _two_messages(store)
    common = common_start([first, second])
    result = runner.invoke(main, ["mailbox", "show", common])
    assert result.exit_code == 1
    assert f"{common!r} is the start of more than one message id; give more of it:" in result.output
    assert "".join(f"\n  {i}" for i in sorted([first, second])) + "\n" in result.output
    assert "Traceback" not in result.output


def test_show_lists_at_most_ten_candidates(runner: FlaskCliRunner, store: MailStore) -> None:
    ids = [store.deliver(["ada@example.org"], build_message())[0] for _ in range(12)]
    result = runner.invoke(main, ["mailbox", "show", common_start(ids)])
    assert result.exit_code == 1
    assert sum(line.startswith("  ") for line in result.output.splitlines()) == 11
    assert result.output.rstrip().endswith("  and more")


@pytest.mark.parametrize("given", ["no-such-id", "", "\udcff"])
def test_show_an_id_that_starts_no_id_fails_clearly(
    runner: FlaskCliRunner, store: MailStore, given: str
) -> None:
    _two_messages(store)
    result = runner.invoke(main, ["mailbox", "show", given])
    assert result.exit_code == 1
    assert "in the captured mail; `quizmail mailbox list` shows ids." in result.output
    assert "Traceback" not in result.output


def test_export_counts_rows_in_the_singular(
    runner: FlaskCliRunner, store: MailStore, tmp_path: Path
) -> None:
    store.deliver(["ada@example.org"], results_email(results_payload()))
    result = runner.invoke(main, ["mailbox", "export", "--gradebook", str(tmp_path / "g.csv")])
    assert "1 gradebook row written to" in result.output


TITLE_ESCAPE = "\x1b]0;owned\x07"  # sets a terminal's title: OSC 0 … BEL


def test_list_and_show_make_control_characters_visible(
    runner: FlaskCliRunner, store: MailStore
) -> None:
    (found,) = store.deliver(
        ["ada@example.org"],
        build_message(subject=f"Quiz {TITLE_ESCAPE}", text="line one\nline \x1b[2J two\n"),
    )
    listed = runner.invoke(main, ["mailbox", "list"])
    shown = runner.invoke(main, ["mailbox", "show", found])
    for output in (listed.stdout, shown.stdout):
        assert "\x1b" not in output
        assert "\x07" not in output
        assert "Quiz ^[]0;owned^G" in output
    assert "line one\nline ^[[2J two" in shown.stdout  # line breaks kept, the escape shown
