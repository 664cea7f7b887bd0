import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.store import MailStore
from app.web.instructor import PAGE_SIZE, human_size

from .helpers import build_message, csrf_token, results_email, results_payload


def subjects(page: str) -> list[str]:
    """The subjects listed on a mailbox page, in order."""
    return re.findall(r'href="/instructor/messages/[^"]+">([^<]+)</a>', page)


def deliver_numbered(store: MailStore, count: int, to: str = "ada@example.org") -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for n in range(count):
        raw = build_message(to=to, subject=f"Message {n}", date=start + timedelta(minutes=n))
        store.deliver([to], raw)


def test_newest_first_and_paginated(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, PAGE_SIZE + 3)
    first = instructor.get("/instructor/mailbox").get_data(as_text=True)
    assert subjects(first) == [f"Message {n}" for n in range(PAGE_SIZE + 2, 2, -1)]
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first
    second = instructor.get("/instructor/mailbox?page=2").get_data(as_text=True)
    assert subjects(second) == ["Message 2", "Message 1", "Message 0"]
    assert 'rel="prev"' in second


@pytest.mark.parametrize("page", ["0", "-3", "x", "99"])
def test_out_of_range_page_is_clamped(instructor: FlaskClient, store: MailStore, page: str) -> None:
    deliver_numbered(store, 2)
    response = instructor.get(f"/instructor/mailbox?page={page}")
    assert response.status_code == 200
    assert subjects(response.get_data(as_text=True)) == ["Message 1", "Message 0"]


def test_filter_by_recipient_mailbox(instructor: FlaskClient, store: MailStore) -> None:
    store.deliver(["ada@example.org"], build_message(to="ada@example.org", subject="For Ada"))
    store.deliver(["bob@example.org"], build_message(to="bob@example.org", subject="For Bob"))
    page = instructor.get("/instructor/mailbox?to=bob@example.org").get_data(as_text=True)
    assert subjects(page) == ["For Bob"]
    assert '<option value="bob@example.org" selected>' in page
    assert '<label for="to">' in page


def test_a_message_to_two_recipients_is_in_both_mailboxes(
    instructor: FlaskClient, store: MailStore
) -> None:
    raw = build_message(to="ada@example.org, teacher@example.org", subject="Cc test")
    store.deliver(["ada@example.org", "teacher@example.org"], raw)
    for mailbox in ("ada@example.org", "teacher@example.org"):
        page = instructor.get(f"/instructor/mailbox?to={mailbox}").get_data(as_text=True)
        assert subjects(page) == ["Cc test"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Lovelace", ["From Ada"]),  # sender
        pytest.param(
            "bob@example.org",
            ["To Bob"],
            id="recipients",
        ),
        ("quarterly", ["Quarterly report"]),  # subject
        ("unicorn", ["Plain subject"]),  # text
    ],
)
def test_search(instructor: FlaskClient, store: MailStore, query: str, expected: list[str]) -> None:
    messages = [
        build_message(sender="Ada Lovelace <ada@example.org>", subject="From Ada"),
        build_message(to="bob@example.org", subject="To Bob"),
        build_message(subject="Quarterly report"),
        build_message(subject="Plain subject", text="A unicorn in the text part."),
    ]
    for raw in messages:
        store.deliver(["someone@example.org"], raw)
    page = instructor.get(f"/instructor/mailbox?q={query}").get_data(as_text=True)
    assert subjects(page) == expected
    assert f'value="{query}"' in page


def test_empty_search_says_so(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 1)
    page = instructor.get("/instructor/mailbox?q=nothing-like-this").get_data(as_text=True)
    assert "No messages match this filter." in page


def test_status_changes_when_mail_arrives(
    app: Flask, instructor: FlaskClient, store: MailStore
) -> None:
    before = instructor.get("/instructor/mailbox/status.json").get_json()
    assert before == {"total": 0, "newest": None}
    # The capture server is another process with its own MailStore on the same directory.
    MailStore(app.config["MAILBOX_DIR"]).deliver(["ada@example.org"], build_message())
    after = instructor.get("/instructor/mailbox/status.json").get_json()
    assert after["total"] == 1
    assert after["newest"] is not None
    filtered = instructor.get("/instructor/mailbox/status.json?to=bob@example.org").get_json()
    assert filtered == {"total": 0, "newest": None}


def test_page_polls_politely_and_degrades_to_a_link(instructor: FlaskClient) -> None:
    page = instructor.get("/instructor/mailbox?q=x").get_data(as_text=True)
    assert 'aria-live="polite"' in page
    assert 'data-status-url="/instructor/mailbox/status.json?q=x"' in page
    assert "js/mailbox.js" in page
    assert 'class="refresh-link"' in page


def test_clear_asks_for_confirmation_first(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 3)
    confirm = instructor.get("/instructor/mailbox/clear")
    assert confirm.status_code == 200
    assert b"all 3 captured messages" in confirm.data
    assert store.count() == 3


def test_clear_needs_csrf_token(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 2)
    assert instructor.post("/instructor/mailbox/clear").status_code == 400
    assert store.count() == 2


def test_clear_deletes_every_message(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 2, to="ada@example.org")
    deliver_numbered(store, 2, to="bob@example.org")
    token = csrf_token(instructor, "/instructor/mailbox/clear")
    response = instructor.post("/instructor/mailbox/clear", data={"csrf_token": token})
    assert response.headers["Location"] == "/instructor/mailbox"
    assert store.count() == 0
    page = instructor.get("/instructor/mailbox").get_data(as_text=True)
    assert subjects(page) == []


def test_mailbox_table_is_accessible(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 1)
    page = instructor.get("/instructor/mailbox").get_data(as_text=True)
    assert '<caption id="mailbox-caption">' in page
    # On a phone the table scrolls in its own box, which a keyboard can reach and scroll.
    assert (
        '<div class="table-scroll" tabindex="0" role="region" aria-labelledby="mailbox-caption">'
        in page
    )
    assert page.count('<th scope="col">') == 7
    assert '<label for="q">' in page


def mailbox_rows(page: str) -> list[list[str]]:
    """The text of each cell of each row of the mailbox table."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [
            unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        for row in rows
    ]


def test_results_emails_show_student_quiz_and_score(
    instructor: FlaskClient, store: MailStore
) -> None:
    payload = results_payload(name="Ada Lovelace", quiz="smtp", points=8, max_points=10)
    store.deliver(["ada@example.org"], results_email(payload))
    late = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    store.deliver(
        ["teacher@example.org"],
        build_message(sender="Bob <bob@example.org>", subject="My homework", date=late),
    )
    rows = mailbox_rows(instructor.get("/instructor/mailbox").get_data(as_text=True))
    by_subject = {row[4]: row for row in rows}
    results = by_subject["Your results: SMTP quiz attachments"]
    assert results[1:4] == ["Ada Lovelace", "SMTP quiz", "8 / 10"]
    assert results[5] == "ada@example.org"
    plain = by_subject["My homework"]
    assert plain[1:4] == ["Bob <bob@example.org>", "Not a results email", ""]


def test_a_results_email_is_parsed_once_for_mailbox_and_gradebook(
    app: Flask, instructor: FlaskClient, store: MailStore
) -> None:
    (found,) = store.deliver(["ada@example.org"], results_email(results_payload()))
    instructor.get("/instructor/mailbox")
    reader = app.extensions["quizmail.gradebook"]
    remembered = reader.row(store, found)
    instructor.get("/instructor/gradebook")
    assert reader.row(store, found) is remembered  # the same row, not parsed again


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 of 1 message shown."), (2, "2 of 2 messages shown.")]
)
def test_the_count_agrees_in_number(
    instructor: FlaskClient, store: MailStore, count: int, text: str
) -> None:
    deliver_numbered(store, count)
    assert text in instructor.get("/instructor/mailbox").get_data(as_text=True)


def test_a_page_of_a_longer_list_says_how_many_it_shows(
    instructor: FlaskClient, store: MailStore
) -> None:
    deliver_numbered(store, PAGE_SIZE + 1, to="bob@example.org")
    page = instructor.get("/instructor/mailbox?to=bob@example.org").get_data(as_text=True)
    assert f"{PAGE_SIZE} of {PAGE_SIZE + 1} messages matching the filter shown." in page


def test_a_filter_has_its_own_clear_link(instructor: FlaskClient, store: MailStore) -> None:
    deliver_numbered(store, 1)
    assert "Clear filter" not in instructor.get("/instructor/mailbox").get_data(as_text=True)
    page = instructor.get("/instructor/mailbox?q=Message").get_data(as_text=True)
    assert '<a href="/instructor/mailbox" class="clear-filter">Clear filter</a>' in page


def test_clear_all_sits_in_a_danger_zone_after_the_list(
    instructor: FlaskClient, store: MailStore
) -> None:
    deliver_numbered(store, 1)
    page = instructor.get("/instructor/mailbox").get_data(as_text=True)
    zone = page.index('<h2 id="danger-title">Danger zone</h2>')
    assert page.index("</form>") < zone  # not beside the filter
    assert page.index("</table>") < zone
    assert page.index('href="/instructor/mailbox/clear"') > zone


def test_one_captured_message_to_clear_is_said_in_the_singular(
    instructor: FlaskClient, store: MailStore
) -> None:
    deliver_numbered(store, 1)
    page = instructor.get("/instructor/mailbox/clear").get_data(as_text=True)
    assert "This deletes the one captured message" in page


def test_the_list_gives_sizes_in_the_units_the_cli_uses(
    instructor: FlaskClient, store: MailStore
) -> None:
    raw = build_message(text="x" * 2000)
    store.deliver(["ada@example.org"], raw)
    (row,) = mailbox_rows(instructor.get("/instructor/mailbox").get_data(as_text=True))
    assert row[-1] == human_size(len(raw))
    assert row[-1].endswith(" KiB")
