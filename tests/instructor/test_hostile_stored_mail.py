"""Mail the capture server accepted that once broke every reader: each page, the CLI and the
index show what can be shown, and the messages beside it are unharmed."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from app.cli import main
from app.store import MailStore
from app.store.message_view import parse

from .helpers import build_message

HEADER = b"From: a@b.example\r\nTo: ada@example.org\r\nSubject: %s\r\n"
#: 31 Dec 9999 at 23:59:59, 23 h 59 min behind UTC: in the year 10000 in UTC, which no
#: datetime holds.
FAR_FUTURE = HEADER % b"far future" + b"Date: Fri, 31 Dec 9999 23:59:59 -2359\r\n\r\nhi\r\n"


def nested(depth: int) -> bytes:
    """A multipart in a multipart … *depth* levels deep (the stdlib parser recurses per level)."""
    levels = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    return HEADER % b"nested %d" % depth + levels + b"\r\nthe innermost text\r\n"


HOSTILE = [FAR_FUTURE, nested(250), nested(1000)]
PAGES = ["/instructor/mailbox", "/instructor/gradebook", "/instructor/gradebook.csv"]


@pytest.fixture
def poisoned(store: MailStore) -> list[str]:
    """The hostile messages, with a good one on each side; the ids of the hostile ones."""
    store.deliver(["ada@example.org"], build_message(subject="Good before"))
    ids = [store.deliver(["ada@example.org"], raw)[0] for raw in HOSTILE]
    store.deliver(["ada@example.org"], build_message(subject="Good after"))
    return ids


def test_every_page_still_answers(instructor: FlaskClient, poisoned: list[str]) -> None:
    for url in PAGES:
        assert instructor.get(url).status_code == 200, url
    listing = instructor.get("/instructor/mailbox").get_data(as_text=True)
    for subject in ("Good before", "Good after", "far future", "nested 250", "nested 1000"):
        assert subject in listing
    for message_id in poisoned:
        for url in (
            f"/instructor/messages/{message_id}",
            f"/instructor/messages/{message_id}/source",
        ):
            assert instructor.get(url).status_code == 200, url


def test_a_date_no_datetime_holds_sorts_by_arrival(store: MailStore, poisoned: list[str]) -> None:
    summary = store.summary(poisoned[0])
    assert summary.date is None
    assert summary.received_at is not None


def test_too_deep_a_tree_is_read_as_its_header_and_raw_text() -> None:
    message = parse(nested(1000))
    assert message["Subject"] == "nested 1000"
    assert message.get_content_type() == "text/plain"
    assert "the innermost text" in message.get_content()
    shallow = parse(nested(20))
    assert shallow.is_multipart()  # a tree the parser can walk is walked as before


def test_the_cli_lists_and_shows_them(runner: FlaskCliRunner, poisoned: list[str]) -> None:
    listed = runner.invoke(main, ["mailbox", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Good before" in listed.stdout
    assert "far future" in listed.stdout
    for message_id in poisoned:
        shown = runner.invoke(main, ["mailbox", "show", message_id])
        assert shown.exit_code == 0, shown.output
