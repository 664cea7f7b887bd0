"""The instructor logs in, watches mail arrive, reads the student's results and the gradebook."""

from __future__ import annotations

import re
import smtplib
import uuid
from email.message import EmailMessage

import pytest
from journeys import EmailedResults, gradebook_row, open_message
from playwright.sync_api import Page, expect
from running_product import HOST, RunningProduct

pytestmark = pytest.mark.e2e

#: The mailbox page asks for news every POLL_SECONDS (5, app/web/instructor.py): three rounds.
NEW_MAIL_TIMEOUT_MS = 15_000


def send_plain_mail(product: RunningProduct, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "late.student@students.example"
    message["To"] = "teacher@school.example"
    message["Subject"] = subject
    message.set_content("Sorry, my homework is late.")
    with smtplib.SMTP(HOST, product.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


def test_a_wrong_password_is_refused(page: Page, product: RunningProduct) -> None:
    page.goto(product.base_url + "/instructor/gradebook")
    page.get_by_label("Instructor password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("That password is not correct")
    expect(page.get_by_role("link", name="Gradebook")).to_have_count(0)


def test_the_results_email_is_in_the_mailbox(
    emailed_results: EmailedResults, instructor: Page, product: RunningProduct
) -> None:
    instructor.goto(product.base_url + "/instructor/mailbox")
    row = instructor.locator("table.mailbox tbody tr").filter(has_text=emailed_results.subject)
    expect(row).to_have_count(1)
    expect(row.locator("td.recipient")).to_have_text(emailed_results.student.email)
    expect(row.get_by_text("attachments")).to_be_visible()
    # Not "From: QuizMail" on every row: who took which quiz, and the score.
    expect(row.locator("td.student")).to_have_text(emailed_results.student.name)
    expect(row.locator("td.quiz")).to_have_text("SMTP and Internet mail")
    expect(row.locator("td.grade")).to_have_text(emailed_results.score_text)


def test_new_mail_appears_without_reloading_the_mailbox(
    instructor: Page, product: RunningProduct
) -> None:
    instructor.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    subject = f"Late homework {uuid.uuid4().hex[:8]}"
    send_plain_mail(product, subject)
    link = instructor.get_by_role("link", name=subject, exact=True)
    expect(link).to_be_visible(timeout=NEW_MAIL_TIMEOUT_MS)
    assert instructor.evaluate("() => window.sameDocument") is True
    expect(instructor.locator("#mailbox-announcer")).to_have_text("1 new message.")


def test_the_message_shows_its_text_and_sanitised_html(
    instructor: Page, product: RunningProduct, emailed_results: EmailedResults
) -> None:
    seen = emailed_results
    open_message(instructor, product.base_url, seen.subject, seen.student.email)
    text = instructor.locator("pre.message-text")  # the first tab, shown at once
    expect(text).to_contain_text(f"Hello {seen.student.name},")
    points = f"{seen.score.points:g} of {seen.score.max_points:g} points ({seen.percentage_text})"
    expect(text).to_contain_text(f"Score:     {points}")
    instructor.get_by_role("tab", name="Headers").click()
    headers = instructor.locator("table.headers tr")
    expect(headers.filter(has_text="Message-ID").locator("td")).to_have_text(seen.message_id)
    instructor.get_by_role("tab", name="Attachments (2)").click()
    for name in ("results.csv", "results.json"):
        expect(instructor.get_by_role("link", name=name)).to_be_visible()
    instructor.get_by_role("tab", name="HTML").click()
    frame = instructor.frame_locator("iframe.message-html")
    expect(frame.locator("body")).to_contain_text("SMTP and Internet mail")
    iframe = instructor.locator("iframe.message-html")
    expect(iframe).to_have_attribute("sandbox", "")


def test_the_gradebook_has_the_score_the_student_saw(
    instructor: Page, product: RunningProduct, emailed_results: EmailedResults
) -> None:
    seen = emailed_results
    student, quiz, score, percentage, verdict, _, _ = gradebook_row(
        instructor, product.base_url, seen.student.email
    )
    assert student.splitlines() == [seen.student.name, seen.student.email]
    assert quiz == "SMTP and Internet mail"
    assert score == seen.score_text
    assert re.fullmatch(r"[\d.]+ %", percentage), percentage
    assert f"{float(percentage.split()[0]):.0f}%" == seen.percentage_text
    assert verdict == ("Pass" if seen.score.points / seen.score.max_points >= 0.6 else "Fail")
