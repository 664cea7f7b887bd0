"""Email my results, end to end: the real quiz pages, the button, a real aiosmtpd relay."""

from __future__ import annotations

import email
import email.policy
import html
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from notify_support import LocalRelay
from results_client import (
    ADA,
    ResultsPage,
    hidden_fields,
    later_deliverer,
    press_email,
    results_app,
    status_page,
    status_page_of,
    take_and_submit,
)
from results_schema import assert_results_document

from app.notify import Deliverer
from app.quiz import Result
from app.web import submissions


@pytest.fixture
def app(tmp_path: Path, relay: LocalRelay) -> Iterator[Flask]:
    yield from results_app(tmp_path, relay)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        assert not part.defects, part.defects
        for name, value in part.items():
            assert not getattr(value, "defects", ()), (name, value.defects)
    return message


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }


def server_result(app: Flask, token: str) -> Result:
    with app.test_request_context():
        return submissions.load_submission(token).result


# -- the happy path -------------------------------------------------------------------------------


def test_results_page_has_the_email_form(client: FlaskClient) -> None:
    results = take_and_submit(client)
    assert "Email my results" in results.html
    assert 'action="/results/email"' in results.html
    assert 'type="email"' in results.html


def test_pressing_the_button_delivers_the_report(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    response = press_email(client, results, name="Ada Lovelace")
    _, status = status_page_of(client, response)
    [captured] = running_relay.captured
    message = parse(captured.data)
    assert "handed to the mail server" in status
    assert html.escape(message["Message-ID"]) in status
    assert "250 2.0.0 Message accepted for delivery" in status
    assert "<details" in status
    assert "C: MAIL FROM:&lt;quizmail@localhost&gt;" in status
    assert (captured.sender, captured.recipients) == ("quizmail@localhost", [ADA])
    assert message["To"].addresses[0].display_name == "Ada Lovelace"
    assert message["To"].addresses[0].addr_spec == ADA
    assert message["Subject"] == "Your results: SMTP and Internet mail — 2.5/4 (62%)"


def test_emailed_score_is_the_servers_and_both_attachments_are_there(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    press_email(client, results)
    message = parse(running_relay.captured[0].data)
    files = attachments(message)
    assert set(files) == {"results.csv", "results.json"}
    assert files["results.csv"][0] == "text/csv"
    content_type, payload = files["results.json"]
    assert content_type == "application/json"
    doc = json.loads(payload)
    assert_results_document(doc)
    result = server_result(app, results.token)
    assert (doc["score"]["points"], doc["score"]["max_points"]) == (
        result.points,
        result.max_points,
    )
    assert doc["attempt_id"] == result.attempt.id
    assert doc["student"] == {"email": ADA, "name": None}
    text = message.get_body(("plain",)).get_content()
    assert "Score:     2.5 of 4 points (62%)" in text
    assert "<table" in message.get_body(("html",)).get_content()


def test_numbers_sent_by_the_browser_are_ignored(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    press_email(client, results, subject="You won", points="4", percentage="100", text="hi")
    message = parse(running_relay.captured[0].data)
    assert message["Subject"] == "Your results: SMTP and Internet mail — 2.5/4 (62%)"
    doc = json.loads(attachments(message)["results.json"][1])
    assert doc["score"]["points"] == 2.5


def test_reloading_the_status_and_results_pages_does_not_send_again(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    response = press_email(client, results)
    location = response.headers["Location"]
    for _ in range(3):
        assert client.get(location).status_code == 200
        assert client.get(f"/quiz/smtp/results?token={results.token}").status_code == 200
    assert len(running_relay.captured) == 1


def test_a_running_deliverer_never_sends_what_the_request_is_sending(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    background = Deliverer.from_config(app.config, poll_seconds=0.001).start()
    try:
        for number in range(5):
            press_email(client, take_and_submit(client), email=f"s{number}@example.org")
    finally:
        background.stop(timeout=30)
    recipients = sorted(c.recipients[0] for c in running_relay.captured)
    assert recipients == [f"s{number}@example.org" for number in range(5)]


def test_non_ascii_name_and_domain_arrive_intact(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    press_email(client, take_and_submit(client), email="ada@bücher.example", name="Zoë Ünal")
    [captured] = running_relay.captured
    assert captured.recipients == ["ada@xn--bcher-kva.example"]
    to = parse(captured.data)["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Zoë Ünal", "ada@xn--bcher-kva.example")


# -- when the relay cannot take it ----------------------------------------------------------------


def test_relay_down_queues_then_the_deliverer_sends_exactly_once(
    app: Flask, client: FlaskClient, relay: LocalRelay
) -> None:
    delivery_id, status = status_page_of(client, press_email(client, take_and_submit(client)))
    assert "waiting to be sent" in status
    assert "could not be reached" in status
    assert (Path(app.config["OUTBOX_DIR"]) / "queue" / delivery_id).exists()
    relay.start()
    [record] = later_deliverer(app).run_once()
    assert (record.id, record.state) == (delivery_id, "sent")
    assert later_deliverer(app).run_once() == []
    assert len(relay.captured) == 1
    assert "handed to the mail server" in status_page(client, delivery_id)


def test_temporary_refusal_is_queued_and_retried(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    running_relay.handler.data_replies.append("451 4.3.0 Try again later")
    _, status = status_page_of(client, press_email(client, take_and_submit(client)))
    assert "waiting to be sent" in status
    assert "451 4.3.0 Try again later" in status
    assert later_deliverer(app).run_once()[0].state == "sent"
    assert len(running_relay.captured) == 1


def test_permanent_refusal_is_shown_in_plain_words_and_not_retried(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    running_relay.handler.rcpt_replies["nobody@example.org"] = "550 No such user here"
    response = press_email(client, take_and_submit(client), email="nobody@example.org")
    _, status = status_page_of(client, response)
    assert "refused your results" in status
    assert "550 No such user here" in status
    assert "mailbox does not exist" in status
    assert later_deliverer(app).run_once() == []
    assert running_relay.captured == []


# -- abuse ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "ada@example.org\r\nBcc: mallory@example.org"},
        {"email": "ada@example.org\nBcc: mallory@example.org"},
        {"email": "ada@example.org\x00"},
        {"name": "Ada\r\nBcc: mallory@example.org"},
        {"name": "Ada\rSubject: You won"},
        {"name": "Ada\u2028Bcc: mallory@example.org"},
    ],
)
def test_header_injection_is_refused_with_a_clear_400(
    client: FlaskClient, running_relay: LocalRelay, fields: dict[str, str]
) -> None:
    response = press_email(client, take_and_submit(client), **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "line break or another control character" in page
    assert 'aria-invalid="true"' in page
    assert "your results</h1>" in page  # the results page with its form, not a dead end
    assert running_relay.captured == []


def test_a_name_that_reverses_text_direction_is_refused(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    response = press_email(client, take_and_submit(client), name="Ada \u202egro.elpmaxe@")
    assert response.status_code == 400
    assert "reverses the direction of text" in response.get_data(as_text=True)
    assert running_relay.captured == []


def test_a_persian_name_with_a_zero_width_non_joiner_is_fine(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    press_email(client, take_and_submit(client), name="زهره\u200cها")
    assert parse(running_relay.captured[0].data)["To"].addresses[0].display_name == "زهره\u200cها"


def test_an_overlong_name_is_refused(client: FlaskClient, running_relay: LocalRelay) -> None:
    response = press_email(client, take_and_submit(client), name="A" * 101)
    assert response.status_code == 400
    assert "longer than 100 characters" in response.get_data(as_text=True)


def test_one_attempt_is_emailed_at_most_three_times(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    assert [press_email(client, results).status_code for _ in range(3)] == [303] * 3
    response = press_email(client, results)
    assert response.status_code == 429
    assert "already been emailed 3 times" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert len(running_relay.captured) == 3


def test_one_client_is_limited_per_hour(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    app.config["EMAILS_PER_CLIENT_PER_HOUR"] = 2
    assert press_email(client, take_and_submit(client)).status_code == 303
    assert press_email(client, take_and_submit(client)).status_code == 303
    response = press_email(client, take_and_submit(client))
    assert response.status_code == 429
    assert "in the last hour" in response.get_data(as_text=True)
    assert len(running_relay.captured) == 2


def test_an_attempt_refused_uses_up_none_of_the_clients_hour(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    app.config["EMAILS_PER_CLIENT_PER_HOUR"] = 4
    results = take_and_submit(client)
    codes = [press_email(client, results).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 429, 429]  # the attempt's limit of 3
    assert press_email(client, take_and_submit(client)).status_code == 303  # the client's 4th
    assert len(running_relay.captured) == 4


def test_a_replayed_token_counts_against_the_same_attempt(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    assert [press_email(client, results).status_code for _ in range(2)] == [303, 303]
    stranger = app.test_client()  # another browser, with the token copied from a shared link
    csrf = hidden_fields(stranger.get("/quiz/smtp", follow_redirects=True).get_data(as_text=True))[
        "csrf_token"
    ]
    replayed = ResultsPage(results.html, results.token, csrf)
    response = press_email(stranger, replayed, email="mallory@example.org")
    assert response.status_code == 303
    assert press_email(stranger, replayed, email="mallory@example.org").status_code == 429
    docs = [
        json.loads(attachments(parse(c.data))["results.json"][1]) for c in running_relay.captured
    ]
    assert {doc["attempt_id"] for doc in docs} == {server_result(app, results.token).attempt.id}
    assert {doc["score"]["points"] for doc in docs} == {2.5}


@pytest.mark.parametrize("forge", ["flip", "attempt-token", "empty"])
def test_forged_tokens_are_refused(
    app: Flask, client: FlaskClient, running_relay: LocalRelay, forge: str
) -> None:
    results = take_and_submit(client)
    token = {
        "flip": results.token[:-2] + ("A" if results.token[-2] != "A" else "B") + results.token[-1],
        "attempt-token": hidden_fields(
            client.get("/quiz/smtp", follow_redirects=True).get_data(as_text=True)
        )["attempt"],
        "empty": "",
    }[forge]
    response = client.post(
        "/results/email", data={"csrf_token": results.csrf, "token": token, "email": ADA}
    )
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)
    assert running_relay.captured == []


def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    response = client.post("/results/email", data={"token": results.token, "email": ADA})
    assert response.status_code == 400
    assert running_relay.captured == []


def test_unknown_status_page_is_a_404(client: FlaskClient) -> None:
    assert client.get("/results/email/" + "x" * 22).status_code == 404
    assert client.get("/results/email/..%2Fsecret_key").status_code == 404
