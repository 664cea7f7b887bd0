"""The "Email my results" form when the address is refused or looks mistyped, the allowance of
sends, and the outcome pages (and their JSON twin), through the test client and a real relay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from notify_support import LocalRelay
from page_elements import Element, elements, words
from results_client import (
    ADA,
    ResultsPage,
    later_deliverer,
    press_email,
    results_app,
    status_page_of,
    take_and_submit,
)
from werkzeug.test import TestResponse

RESULTS_HEADING = "SMTP and Internet mail: your results"


@pytest.fixture
def app(tmp_path: Path, relay: LocalRelay) -> Iterator[Flask]:
    yield from results_app(tmp_path, relay)


def page_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def field_problem(page: str, field_id: str) -> str:
    """The message the field is described by, after checking it is marked invalid."""
    found = elements(page).by_id
    field = found[field_id]
    assert field.get("aria-invalid") == "true"
    described_by = field.get("aria-describedby")
    assert described_by is not None
    return words(found[described_by].text)


def submit_form(client: FlaskClient, form: Element) -> TestResponse:
    """Press a submit button of *form*: its hidden fields are what it sends."""
    inputs = [i for i in form.find_all("input") if i.get("type") == "hidden"]
    return client.post(
        str(form.get("action")), data={i.get("name"): i.get("value") for i in inputs}
    )


def json_status(client: FlaskClient, delivery_id: str) -> dict[str, object]:
    response = client.get(f"/results/email/{delivery_id}.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    status: dict[str, object] = json.loads(response.get_data())
    return status


# -- an address or name that cannot be used: the results page again ------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("bob@example", "It should have a period"),
        ("bob@localhost", "It should have a period"),
        ("bob@@example.org", "not a usable email address"),
        ("bob@exa mple.org", "not a usable email address"),
        ("bob@example.org\x07", "control character"),
        ("", "Please enter an email address"),
        ("ada", "not a usable email address"),
        ("ada@example.org, mallory@example.org", "not a usable email address"),
        ("zoë@example.org", "not a usable email address"),
    ],
)
def test_a_refused_address_shows_the_results_page_again_with_the_error_beside_the_field(
    client: FlaskClient, running_relay: LocalRelay, address: str, reason: str
) -> None:
    response = press_email(client, take_and_submit(client), email=address, name="Bob Byte")
    assert response.status_code == 400
    page = page_of(response)
    found = elements(page).by_id
    assert words(found["score-title"].text) == RESULTS_HEADING
    assert reason in field_problem(page, "email-address")
    assert found["email-address"].get("value") == address.strip()
    assert "autofocus" in found["email-address"].attrs
    assert found["email-name"].get("value") == "Bob Byte"
    assert found["email-name"].get("aria-invalid") is None
    assert running_relay.captured == []


def test_an_overlong_name_is_marked_on_the_name_field(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    response = press_email(client, take_and_submit(client), name="A" * 101)
    page = page_of(response)
    assert response.status_code == 400
    assert "longer than 100 characters" in field_problem(page, "email-name")
    assert elements(page).by_id["email-address"].get("aria-invalid") is None
    assert elements(page).by_id["email-address"].get("value") == "ada@example.org"


def test_the_form_shown_again_sends_once_corrected(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    again = page_of(press_email(client, results, email="bob@example"))
    fixed = ResultsPage(again, results.token, results.csrf)
    status_page_of(client, press_email(client, fixed, email="bob@example.org"))
    assert [c.recipients for c in running_relay.captured] == [["bob@example.org"]]


def test_a_fresh_results_page_marks_nothing(client: FlaskClient) -> None:
    found = elements(take_and_submit(client).html).by_id
    assert found["email-address"].get("value") == ""
    assert found["email-address"].get("aria-invalid") is None
    assert "email-address-error" not in found
    assert "email-address-advice" not in found


# -- a domain that looks mistyped: "Did you mean …?" ----------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ada@exmaple.con", "ada@example.com"),
        ("ada@gmial.com", "ada@gmail.com"),
        ("ada@gmail.con", "ada@gmail.com"),
        ("ada@hotmial.com", "ada@hotmail.com"),
        ("ada@yaho.com", "ada@yahoo.com"),
        ("ada@outlok.com", "ada@outlook.com"),
    ],
)
def test_a_likely_typo_asks_did_you_mean_and_sends_nothing(
    client: FlaskClient, running_relay: LocalRelay, typed: str, meant: str
) -> None:
    response = press_email(client, take_and_submit(client), email=typed)
    assert response.status_code == 200
    found = elements(page_of(response)).by_id
    field = found["email-address"]
    assert field.get("value") == typed
    assert field.get("aria-invalid") is None
    advice = words(found[str(field.get("aria-describedby"))].text)
    assert advice.startswith(f"Did you mean {meant}?")
    assert running_relay.captured == []


def test_the_correction_is_one_press_of_a_button(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    response = press_email(client, take_and_submit(client), email="ada@gmial.com", name="Ada")
    found = elements(page_of(response)).by_id
    assert found["email-suggested"].get("method") == "post"
    _, status = status_page_of(client, submit_form(client, found["email-suggested"]))
    assert "handed to the mail server" in status
    [captured] = running_relay.captured
    assert captured.recipients == ["ada@gmail.com"]
    assert b"To: Ada <ada@gmail.com>" in captured.data


def test_the_address_as_typed_can_still_be_sent(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    response = press_email(client, take_and_submit(client), email="ada@gmial.com")
    as_typed = elements(page_of(response)).by_id["email-as-typed"]
    status_page_of(client, submit_form(client, as_typed))
    assert [c.recipients for c in running_relay.captured] == [["ada@gmial.com"]]


def test_confirming_one_address_does_not_confirm_another(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    response = press_email(client, results, email="ada@yaho.com", confirm_typo="ada@gmial.com")
    assert "Did you mean" in page_of(response)
    assert running_relay.captured == []


def test_a_typo_check_uses_none_of_the_allowance(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    for _ in range(5):
        assert press_email(client, results, email="ada@gmial.com").status_code == 200
    assert [press_email(client, results).status_code for _ in range(3)] == [303] * 3


# -- what counts against the allowance ------------------------------------------------------------


def test_sends_the_relay_refuses_do_not_use_up_the_attempts_allowance(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    running_relay.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 No such user here"
    results = take_and_submit(client)
    for _ in range(4):
        _, status = status_page_of(client, press_email(client, results, email="nobody@example.org"))
        assert "refused your results" in status
    assert [press_email(client, results).status_code for _ in range(3)] == [303] * 3
    assert press_email(client, results).status_code == 429
    assert len(running_relay.captured) == 3


def test_queued_sends_count_against_the_attempts_allowance(
    client: FlaskClient, relay: LocalRelay
) -> None:
    results = take_and_submit(client)
    for _ in range(3):
        assert "waiting to be sent" in status_page_of(client, press_email(client, results))[1]
    assert press_email(client, results).status_code == 429


def test_refused_sends_still_count_against_the_clients_hour(
    app: Flask, client: FlaskClient, running_relay: LocalRelay
) -> None:
    app.config["EMAILS_PER_CLIENT_PER_HOUR"] = 2
    running_relay.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 No such user here"
    results = take_and_submit(client)
    for _ in range(2):
        assert press_email(client, results, email="nobody@example.org").status_code == 303
    response = press_email(client, results)
    assert response.status_code == 429
    assert "in the last hour" in page_of(response)


# -- the outcome pages ----------------------------------------------------------------------------


def outcome_of(client: FlaskClient, response: TestResponse) -> tuple[str, str, dict[str, str]]:
    """Follow the POST to the status page: the delivery id, the page and its parts."""
    delivery_id, page = status_page_of(client, response)
    return delivery_id, page, outcome_parts(page)


def outcome_parts(page: str) -> dict[str, str]:
    """The page's parts by name (heading, summary, next), the details, whether they are open."""
    main = elements(page).by_id["main"]
    parts = {str(e.get("data-outcome")): words(e.text) for e in main.descendants()}
    [details] = main.find_all("details")
    parts["details"] = words(details.text)
    parts["details open"] = str(details.get("open") is not None)
    return parts


def email_that_ends(state: str, client: FlaskClient, relay: LocalRelay) -> TestResponse:
    """Press the button with the relay up ("sent"), down ("queued") or refusing ("failed")."""
    if state != "queued":
        relay.start()
    if state == "failed":
        relay.handler.rcpt_replies[ADA] = "550 5.1.1 No such user here"
    return press_email(client, take_and_submit(client))


OUTCOMES = {  # state: heading, words of the summary, the next step, words of the details
    "sent": (
        "Your results were handed to the mail server",
        f"accepted the message for {ADA}",
        "If it does not arrive, look in your spam folder.",
        "250 2.0.0 Message accepted for delivery",
    ),
    "queued": (
        "Your results are waiting to be sent",
        "nothing is lost if you close this page",
        "Check again",
        "could not be reached",
    ),
    "failed": (
        "The mail server refused your results",
        "this mailbox does not exist. Check the address for typos",
        "Go back to your results to try another address",
        "550 5.1.1 No such user here",
    ),
}


@pytest.mark.parametrize("state", OUTCOMES)
def test_each_outcome_page_speaks_to_the_student_first(
    client: FlaskClient, relay: LocalRelay, state: str
) -> None:
    heading, summary, next_step, detail = OUTCOMES[state]
    _, _, parts = outcome_of(client, email_that_ends(state, client, relay))
    assert (parts["heading"], parts["next"]) == (heading, next_step)
    assert summary in parts["summary"]
    assert parts["details open"] == "False"  # the technical facts: one click away
    for technical in (
        detail,
        "Message-ID",
        "C: MAIL FROM:" if state != "queued" else "Connection refused",
    ):
        assert technical in parts["details"]
        assert technical not in parts["heading"] + parts["summary"]


def test_the_refused_page_leads_back_to_the_form_to_try_another_address(
    client: FlaskClient, relay: LocalRelay
) -> None:
    _, page, _ = outcome_of(client, email_that_ends("failed", client, relay))
    [link] = elements(page).by_id["main"].find_all("a")[:1]
    path, _, anchor = str(link.get("href")).partition("#")
    back = elements(page_of(client.get(path))).by_id
    assert anchor in back
    assert words(back[anchor].text) == "Email my results"


def test_only_the_queued_page_polls_with_its_script(client: FlaskClient, relay: LocalRelay) -> None:
    delivery_id, page, _ = outcome_of(client, email_that_ends("queued", client, relay))
    [section] = [e for e in elements(page).by_id["main"].children if e.get("data-email-status")]
    assert section.get("data-email-status") == f"/results/email/{delivery_id}.json"
    assert section.get("data-state") == "queued"
    assert '<script src="/static/js/email_status.js" defer>' in page
    assert 'http-equiv="refresh"' not in page
    relay.start()
    _, sent, _ = outcome_of(client, press_email(client, take_and_submit(client)))
    assert "email_status.js" not in sent


def test_the_json_status_follows_the_message_from_queued_to_sent(
    app: Flask, client: FlaskClient, relay: LocalRelay
) -> None:
    delivery_id, _ = status_page_of(client, press_email(client, take_and_submit(client)))
    queued = json_status(client, delivery_id)
    assert (queued["state"], queued["heading"]) == ("queued", "Your results are waiting to be sent")
    relay.start()
    later_deliverer(app).run_once()
    sent = json_status(client, delivery_id)
    assert (sent["state"], sent["heading"]) == (
        "sent",
        "Your results were handed to the mail server",
    )
    assert ["Server's reply", "250 2.0.0 Message accepted for delivery", True] in sent["facts"]
    assert sent["next_url"] is None
    assert any(line.startswith("C: MAIL FROM:") for line in sent["transcript"])


def test_the_json_status_of_an_unknown_email_is_a_404(client: FlaskClient) -> None:
    assert client.get("/results/email/" + "x" * 22 + ".json").status_code == 404
