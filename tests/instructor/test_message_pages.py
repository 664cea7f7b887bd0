import re

import pytest
from flask.testing import FlaskClient

from app.store import MailStore
from app.store.message_view import human_size

from .helpers import build_message, csrf_token, email_message, results_email, results_payload
from .test_message_view import HOSTILE_HTML


@pytest.fixture
def message_id(store: MailStore) -> str:
    raw = build_message(
        subject="Your results",
        text="You scored 8 of 10.",
        html=HOSTILE_HTML,
        attachments=(
            ("results.json", "application/json", b'{"schema": "x"}'),
            ('../evil"name.html', "text/html", b"<script>alert(1)</script>"),
        ),
    )
    (found,) = store.deliver(["ada@example.org"], raw)
    return found


def test_message_page_shows_text_headers_and_attachments(
    instructor: FlaskClient, message_id: str
) -> None:
    page = instructor.get(f"/instructor/messages/{message_id}").get_data(as_text=True)
    assert "<h1>Your results</h1>" in page
    assert "You scored 8 of 10." in page
    assert '<th scope="row">Subject</th><td>Your results</td>' in page
    assert f'/instructor/messages/{message_id}/attachments/0">results.json</a>' in page
    assert "evil_name.html" in page


def test_message_page_frames_the_html_in_a_sandbox(
    instructor: FlaskClient, message_id: str
) -> None:
    page = instructor.get(f"/instructor/messages/{message_id}").get_data(as_text=True)
    assert 'sandbox=""' in page
    assert f'src="/instructor/messages/{message_id}/html"' in page
    assert "<script>alert" not in page  # the hostile HTML never reaches the page itself


def test_html_part_is_sanitised_and_locked_down(instructor: FlaskClient, message_id: str) -> None:
    response = instructor.get(f"/instructor/messages/{message_id}/html")
    body = response.get_data(as_text=True)
    for inert in ("<script", "onerror", "onclick", "javascript:", "tracker.example"):
        assert inert not in body.lower()
    assert "good link" in body
    csp = response.headers["Content-Security-Policy"]
    assert csp == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_message_without_html_has_no_frame(instructor: FlaskClient, store: MailStore) -> None:
    (plain,) = store.deliver(["ada@example.org"], build_message())
    assert instructor.get(f"/instructor/messages/{plain}/html").status_code == 404
    page = instructor.get(f"/instructor/messages/{plain}").get_data(as_text=True)
    assert "<iframe" not in page


def test_attachment_downloads_with_a_safe_name(instructor: FlaskClient, message_id: str) -> None:
    response = instructor.get(f"/instructor/messages/{message_id}/attachments/1")
    assert response.data == b"<script>alert(1)</script>"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "evil_name.html" in disposition
    assert ".." not in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_an_attached_email_is_listed_and_downloads_as_an_eml_file(
    instructor: FlaskClient, store: MailStore
) -> None:
    inner = email_message('Quiz "1" <results>', text="Forwarded score: 9/10")
    (found,) = store.deliver(["ada@example.org"], build_message(attached_messages=(inner,)))
    assert store.summary(found).has_attachments is True
    page = instructor.get(f"/instructor/messages/{found}").get_data(as_text=True)
    assert "No attachments." not in page
    link = f'/instructor/messages/{found}/attachments/0">Quiz _1_ _results_.eml</a>'
    assert link in page
    assert "message/rfc822" in page
    response = instructor.get(f"/instructor/messages/{found}/attachments/0")
    assert response.status_code == 200
    assert response.data == inner.as_bytes()
    assert response.mimetype == "message/rfc822"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert disposition == 'attachment; filename="Quiz _1_ _results_.eml"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_missing_attachment_is_404(instructor: FlaskClient, message_id: str) -> None:
    assert instructor.get(f"/instructor/messages/{message_id}/attachments/7").status_code == 404


def test_eml_is_the_message_as_stored(
    instructor: FlaskClient, store: MailStore, message_id: str
) -> None:
    response = instructor.get(f"/instructor/messages/{message_id}/message.eml")
    assert response.data == store.get_bytes(message_id)
    assert response.mimetype == "message/rfc822"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_raw_source_is_shown_escaped(instructor: FlaskClient, message_id: str) -> None:
    page = instructor.get(f"/instructor/messages/{message_id}/source").get_data(as_text=True)
    assert "Subject: Your results" in page
    assert "<script>alert" not in page


@pytest.mark.parametrize("suffix", ["", "/html", "/source", "/message.eml", "/attachments/0"])
def test_unknown_message_is_404(instructor: FlaskClient, suffix: str) -> None:
    response = instructor.get(f"/instructor/messages/no-such-id{suffix}")
    assert response.status_code == 404
    assert b"Traceback" not in response.data


def test_delete_removes_one_message(
    instructor: FlaskClient, store: MailStore, message_id: str
) -> None:
    (other,) = store.deliver(["ada@example.org"], build_message(subject="Keep me"))
    token = csrf_token(instructor, f"/instructor/messages/{message_id}")
    response = instructor.post(
        f"/instructor/messages/{message_id}/delete", data={"csrf_token": token}
    )
    assert response.headers["Location"] == "/instructor/mailbox"
    assert instructor.get(f"/instructor/messages/{message_id}").status_code == 404
    assert [s.id for s in store.search()] == [other]


def test_a_mailbox_left_empty_leaves_the_filter(instructor: FlaskClient, store: MailStore) -> None:
    (only,) = store.deliver(["zed@example.org"], build_message(subject="Only one"))
    assert 'value="zed@example.org"' in instructor.get("/instructor/mailbox").get_data(True)
    token = csrf_token(instructor, f"/instructor/messages/{only}")
    instructor.post(f"/instructor/messages/{only}/delete", data={"csrf_token": token})
    assert 'value="zed@example.org"' not in instructor.get("/instructor/mailbox").get_data(True)
    # Still offered while it is the filter chosen, so the page says what it shows.
    chosen = instructor.get("/instructor/mailbox?to=zed@example.org").get_data(True)
    assert 'value="zed@example.org" selected' in chosen


def test_delete_needs_csrf_token(
    instructor: FlaskClient, store: MailStore, message_id: str
) -> None:
    assert instructor.post(f"/instructor/messages/{message_id}/delete").status_code == 400
    assert store.count() == 1


def test_message_pages_carry_a_strict_csp(instructor: FlaskClient, message_id: str) -> None:
    response = instructor.get(f"/instructor/messages/{message_id}")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self'
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_every_part_is_on_the_page_with_a_link_to_it(
    instructor: FlaskClient, message_id: str
) -> None:
    """Without JavaScript the parts follow one another; message_tabs.js makes tabs of them."""
    page = instructor.get(f"/instructor/messages/{message_id}").get_data(as_text=True)
    links = re.findall(r'<li><a href="#part-(\w+)" id="tab-\1">([^<]+)</a></li>', page)
    assert links == [
        ("text", "Text"),
        ("html", "HTML"),
        ("headers", "Headers"),
        ("raw", "Raw"),
        ("attachments", "Attachments (2)"),
    ]
    sections = re.findall(r'<section class="message-part" id="part-(\w+)"', page)
    assert sections == [key for key, _ in links]
    assert "js/message_tabs.js" in page
    assert "Subject: Your results" in page  # the raw source, escaped
    assert "<script>alert" not in page


def test_delete_asks_first_and_names_the_gradebook_row(
    instructor: FlaskClient, store: MailStore
) -> None:
    payload = results_payload(name="Ada Lovelace", points=8, max_points=10)
    (found,) = store.deliver(["ada@example.org"], results_email(payload))
    message_page = instructor.get(f"/instructor/messages/{found}").get_data(as_text=True)
    assert f'href="/instructor/messages/{found}/delete">Delete this message…</a>' in message_page
    confirm = instructor.get(f"/instructor/messages/{found}/delete")
    assert confirm.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", "", confirm.get_data(as_text=True)).split())
    assert "Delete this message?" in text
    assert "removes Ada Lovelace’s gradebook row for SMTP quiz (8 / 10)" in text
    assert store.count() == 1  # asking deletes nothing
    token = csrf_token(instructor, f"/instructor/messages/{found}/delete")
    instructor.post(f"/instructor/messages/{found}/delete", data={"csrf_token": token})
    assert "No results emails yet." in instructor.get("/instructor/gradebook").get_data(True)


def test_deleting_mail_that_is_not_results_says_nothing_of_the_gradebook(
    instructor: FlaskClient, store: MailStore
) -> None:
    (plain,) = store.deliver(["ada@example.org"], build_message(subject="Hello"))
    page = instructor.get(f"/instructor/messages/{plain}/delete").get_data(as_text=True)
    assert "Delete this message?" in page
    assert "gradebook row" not in page


def test_the_delete_page_of_a_deleted_message_is_404(instructor: FlaskClient) -> None:
    response = instructor.get("/instructor/messages/no-such-id/delete")
    assert response.status_code == 404
    assert b"Traceback" not in response.data


@pytest.mark.parametrize(
    ("subject", "disposition"),
    [
        ("Your results: SMTP", 'attachment; filename="Your results SMTP.eml"'),
        ("../../etc/passwd", 'attachment; filename="etc passwd.eml"'),
        ("", "attachment; filename=message.eml"),
        (
            "Résultats : été",
            'attachment; filename="Resultats ete.eml";'
            " filename*=UTF-8''R%C3%A9sultats%20%C3%A9t%C3%A9.eml",
        ),
        ("成绩", "attachment; filename=download.eml; filename*=UTF-8''%E6%88%90%E7%BB%A9.eml"),
    ],
)
def test_eml_is_named_after_the_subject(
    instructor: FlaskClient, store: MailStore, subject: str, disposition: str
) -> None:
    (found,) = store.deliver(["ada@example.org"], build_message(subject=subject))
    response = instructor.get(f"/instructor/messages/{found}/message.eml")
    assert response.headers["Content-Disposition"] == disposition


def test_sizes_are_in_si_units(instructor: FlaskClient, store: MailStore) -> None:
    data = b"x" * 1500
    raw = build_message(attachments=(("notes.txt", "text/plain", data),))
    (found,) = store.deliver(["ada@example.org"], raw)
    page = instructor.get(f"/instructor/messages/{found}").get_data(as_text=True)
    assert "(text/plain, 1.5 KiB)" in page
    assert f"<dt>Size</dt><dd>{human_size(len(raw))}</dd>" in page


def test_the_raw_tab_of_a_large_message_shows_its_start(
    instructor: FlaskClient, store: MailStore
) -> None:
    text = "line of text\n" * 20_000 + "THE END"  # well past what the tab shows
    (found,) = store.deliver(["ada@example.org"], build_message(text=text))
    page = instructor.get(f"/instructor/messages/{found}").get_data(as_text=True)
    raw_tab = page.split('id="part-raw"', 1)[1].split("</section>", 1)[0]
    assert "The first 200.0 KiB are shown here." in raw_tab
    assert "THE END" not in raw_tab
    assert "THE END" in instructor.get(f"/instructor/messages/{found}/source").get_data(True)


def test_deleting_one_of_two_copies_keeps_the_gradebook_row(
    instructor: FlaskClient, store: MailStore
) -> None:
    """Student and instructor in one transaction: two mailboxes, one results email."""
    raw = results_email(results_payload(name="Ada Lovelace"))
    student_copy, _ = store.deliver(["ada@example.org", "teacher@example.org"], raw)
    page = instructor.get(f"/instructor/messages/{student_copy}/delete").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    assert "1 other mailbox holds a copy of it: the gradebook keeps Ada Lovelace’s row" in text
    assert "removes" not in text
    token = csrf_token(instructor, f"/instructor/messages/{student_copy}/delete")
    instructor.post(f"/instructor/messages/{student_copy}/delete", data={"csrf_token": token})
    assert "Ada Lovelace" in instructor.get("/instructor/gradebook").get_data(as_text=True)
