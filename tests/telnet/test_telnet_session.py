"""A whole quiz over a raw socket: answers, back and skip, the summary, the score and the review,
then `email`, whose results.json in the capture server's Maildir is the one the web produces for
the same attempt and the same answers."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from typing import Any

from flask.testing import FlaskClient
from telnet_support import (
    ADA,
    Client,
    Site,
    captured_messages,
    quiz_number,
    results_json,
)

from app import results_signature
from app.quiz import Quiz
from app.results_signature import Verdict
from app.web import submissions

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
TIMES = ("submitted_at", "sent_at")


def answer_for(screen: str) -> str:
    """Letters for a question screen: two for select-all, else the second option."""
    return "a, c" if "select all that apply" in screen else "b"


def take_ports_quiz(client: Client, menu: str) -> str:
    """Open the Ports quiz, answer with back and skip on the way, submit: the results."""
    first = client.line(quiz_number(menu, "Ports and protocols"))
    assert "Question 1 of 4" in first
    second = client.line("A")  # case does not matter
    assert "Question 2 of 4" in second
    again = client.line("back")
    assert "Question 1 of 4" in again
    assert "Your answer so far: a" in again
    client.line(answer_for(again))
    third = client.line("skip")  # question 2 left unanswered
    fourth = client.line(answer_for(third))
    summary = client.line(answer_for(fourth))
    assert "You have answered 3 of 4 questions." in summary
    assert "Not answered: 2." in summary
    back_to_two = client.line("2")
    assert "Question 2 of 4" in back_to_two
    client.line(answer_for(back_to_two))
    client.line("skip")
    summary = client.line("skip")
    assert "You have answered 4 of 4 questions." in summary
    return client.line("submit")


def test_a_whole_quiz_emails_the_results_json_the_web_would(site: Site) -> None:
    with Client(site.port) as client:
        assert client.line("") == "quiz> "  # a blank line: the prompt again, nothing else
        results = take_ports_quiz(client, client.greeting)
        assert re.search(r"Score:  [\d.]+ of \d+ points \(\d+%\)", results)
        assert "Result: " in results
        assert "Your answer:" in results
        assert "Correct answer:" in results
        outcome = client.line("email ada@example.org Ada Lovelace")
        assert "Your results were handed to the mail server" in outcome
        assert re.search(r"Message-ID: +<[^>]+@localhost>", outcome)
        assert "Server's reply: 250" in outcome
        transcript = client.line("transcript")
        assert "C: RCPT TO:<ada@example.org>" in transcript
        assert "S: 250 2.0.0 OK" in transcript
        explained = client.line("transcript explain")
        assert "RFC 5321" in explained
        assert "C: RCPT TO:<ada@example.org>" in explained
        client.send(b"quit\r\n")
        assert client.read_to_close() == "Bye.\r\n"
    (by_telnet,) = captured_messages(site.store(), ADA, 1)
    assert by_telnet["To"] == "Ada Lovelace <ada@example.org>"
    telnet_doc = results_json(by_telnet)
    assert signature_of(by_telnet, site.app.config["SECRET_KEY"]) is Verdict.VERIFIED

    web_doc = email_same_answers_from_the_web(site, telnet_doc)

    assert without_times(web_doc) == without_times(telnet_doc)
    assert [q["id"] for q in telnet_doc["questions"]] == [q["id"] for q in web_doc["questions"]]


def email_same_answers_from_the_web(site: Site, telnet_doc: dict[str, Any]) -> dict[str, Any]:
    """Submit the telnet attempt's answers through the web's form and press its email button."""
    client: FlaskClient = site.app.test_client()
    with site.app.test_request_context():
        quiz = submissions.current_catalog().get(telnet_doc["quiz"]["id"])
        assert quiz is not None
        attempt = submissions.attempt_maker().derive(
            quiz, telnet_doc["attempt_id"], submissions.utcnow()
        )
        token = submissions.sign_attempt(quiz, attempt)
        keys = submissions.option_keys(attempt)
    form: dict[str, Any] = {"attempt": token, "confirm": "1"}
    for qid, option_ids, values, entry in zip(
        attempt.question_ids, attempt.option_ids, keys, telnet_doc["questions"], strict=True
    ):
        chosen = set(chosen_ids(quiz, qid, entry["chosen"]))
        form[f"answer-{qid}"] = [
            v for oid, v in zip(option_ids, values, strict=True) if oid in chosen
        ]
    page = client.post(f"/quiz/{quiz.id}/submit", data=form).get_data(as_text=True)
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page)}
    sent = client.post(
        "/results/email", data={"token": fields["token"], "email": ADA, "name": "Ada Lovelace"}
    )
    assert sent.status_code == 303
    _, by_web = captured_messages(site.store(), ADA, 2)
    return results_json(by_web)


def signature_of(message: EmailMessage, secret: str) -> Verdict:
    """What the gradebook makes of the server's signature on the message's results.json."""
    (part,) = [p for p in message.iter_attachments() if p.get_filename() == "results.json"]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return results_signature.check(data, message[results_signature.HEADER], secret)


def chosen_ids(quiz: Quiz, question_id: str, texts: list[str]) -> list[str]:
    question = quiz.question(question_id)
    return [option.id for option in question.options if option.text in texts]


def without_times(doc: dict[str, Any]) -> dict[str, Any]:
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc[key]) for key in TIMES)
    return {key: value for key, value in doc.items() if key not in TIMES}
