"""The "Email my results" form and its outcome pages in Chromium, 1280 and 390 pixels wide.

The web app and the capture server run in this process on real sockets, so that a test can take
the relay away and bring it back; the outbox is delivered from the test, an hour ahead, so every
retry is due at once and nobody waits for the backoff.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from journeys import DELIVERED, delivery_fact, quiz_file, submit_answers
from playwright.sync_api import Browser, Page, ViewportSize, expect
from running_product import HOST, free_port

from app import create_app
from app.capture import CaptureServer
from app.capture.handler import RecipientPolicy
from app.notify import Deliverer
from app.outbox import Outbox, OutboxRecord
from app.serve import WebServer
from app.web.results_email import notifier

pytestmark = pytest.mark.e2e

WIDTHS = {"wide": 1280, "narrow": 390}  # a laptop, a phone
HEIGHT = 900
QUEUED = "Your results are waiting to be sent"
REFUSED = "The mail server refused your results"
#: The page asks every 5 s; a loaded machine may answer late. Only a bound on waiting.
UPDATE_TIMEOUT_MS = 30_000
EMAIL_FORM = ".email-results"
TAKEN_DOMAINS = frozenset({"students.example", "gmail.com", "gmial.com"})

SizedPage = Callable[..., Page]


@dataclass
class StudentSite:
    """The web app on a real port, mailing a capture server that the test can stop and start."""

    var_dir: Path
    web_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    relay: CaptureServer | None = None

    def __post_init__(self) -> None:
        config = {"VAR_DIR": str(self.var_dir), "SMTP_HOST": HOST, "SMTP_PORT": self.smtp_port}
        self.app = create_app({**config, "SMTP_TIMEOUT": 5.0})
        self.web = WebServer(self.app, HOST, self.web_port)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    def relay_up(self) -> None:
        if self.relay is None:
            mailbox = Path(self.app.config["MAILBOX_DIR"])
            policy = RecipientPolicy(domains=TAKEN_DOMAINS)
            self.relay = CaptureServer(mailbox, HOST, self.smtp_port, policy=policy)
            self.relay.start()

    def relay_down(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    def deliver_queued(self) -> list[OutboxRecord]:
        """One pass of the deliverer, an hour from now: every message waiting is due."""
        outbox = Outbox(self.app.config["OUTBOX_DIR"], clock=lambda: time.time() + 3600)
        return Deliverer(outbox, Deliverer.from_config(self.app.config).relay).run_once()

    def stop(self) -> None:
        self.web.stop()
        with self.app.app_context():
            notifier().close()
        self.relay_down()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudentSite]:
    running = StudentSite(tmp_path_factory.mktemp("email-form") / "var")
    running.web.start()
    running.relay_up()
    yield running
    running.stop()


@pytest.fixture
def relay_down(site: StudentSite) -> Iterator[StudentSite]:
    site.relay_down()
    yield site
    site.relay_up()


@pytest.fixture(params=list(WIDTHS))
def sized_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[SizedPage]:
    """Pages in fresh contexts, as wide as the parameter says; with or without JavaScript."""
    contexts = []

    def make(*, javascript: bool = True) -> Page:
        viewport = ViewportSize(width=WIDTHS[request.param], height=HEIGHT)
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def results_page(page: Page, site: StudentSite) -> Page:
    """Submit a quiz as it comes (no answers): the results page with the email form."""
    quiz = quiz_file()
    page.goto(f"{site.base_url}/quiz/{quiz.id}")
    submit_answers(page, quiz)
    return page


def press_email(page: Page, address: str, name: str = "") -> None:
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Email my results").click()


def queued_page(page: Page, site: StudentSite) -> Page:
    """The status page of results emailed while the relay is down."""
    results_page(page, site)
    press_email(page, "ada@students.example")
    expect_heading(page, QUEUED)
    return page


def expect_heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


#: axe-core on part of a page: the email form of a results page, or a whole outcome page.
RUN_AXE_ON = """async (selector) => {
  const found = await axe.run(selector, {resultTypes: ["violations"]});
  return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


def assert_no_axe_violations(page: Page, axe_source: str, selector: str = "html") -> None:
    """No violation of any impact in *selector* (the results page's review is not ours)."""
    page.evaluate(axe_source)
    found = page.evaluate(RUN_AXE_ON, selector)
    assert found == [], f"{page.url} {selector}:\n{json.dumps(found, indent=2)}"


def test_a_refused_address_shows_the_form_again_with_the_error_beside_the_field(
    sized_page: SizedPage, site: StudentSite, axe_source: str
) -> None:
    page = results_page(sized_page(), site)
    press_email(page, "bob@localhost", name="Bob Byte")
    expect(page.get_by_role("heading", level=1)).to_contain_text("your results")
    field = page.get_by_label("Email address")
    expect(field).to_have_value("bob@localhost")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(
        "“bob@localhost” is not a usable email address:"
        " The part after the @-sign is not valid. It"
        " should have a period."
    )
    expect(field).to_be_focused()
    expect(page.get_by_label("Name")).to_have_value("Bob Byte")
    assert_error_is_beside(page, field_id="email-address", message_id="email-address-error")
    assert_no_axe_violations(page, axe_source, EMAIL_FORM)
    press_email(page, "bob@students.example", name="Bob Byte")
    expect_heading(page, DELIVERED)


def assert_error_is_beside(page: Page, *, field_id: str, message_id: str) -> None:
    """The message starts within a line of the field's bottom and overlaps it sideways."""
    box = page.locator(f"#{field_id}").bounding_box()
    message = page.locator(f"#{message_id}").bounding_box()
    assert box is not None
    assert message is not None
    assert 0 <= message["y"] - (box["y"] + box["height"]) < 2 * 16
    assert message["x"] < box["x"] + box["width"]
    assert box["x"] < message["x"] + message["width"]


def test_did_you_mean_corrects_the_address_in_one_click_without_javascript(
    sized_page: SizedPage, site: StudentSite
) -> None:
    page = results_page(sized_page(javascript=False), site)
    press_email(page, "ada@gmial.com", name="Ada Lovelace")
    field = page.get_by_label("Email address")
    expect(field).to_have_value("ada@gmial.com")
    expect(field).to_have_accessible_description(
        "Did you mean ada@gmail.com? Send to ada@gmail.com Send to ada@gmial.com as typed"
    )
    correction = page.get_by_role("button", name="Send to ada@gmail.com", exact=True)
    expect(correction).to_be_focused()
    correction.click()
    expect_heading(page, DELIVERED)
    assert delivery_fact(page, "To") == "ada@gmail.com"


def test_the_address_as_typed_is_sent_when_the_student_says_so(
    sized_page: SizedPage, site: StudentSite, axe_source: str
) -> None:
    page = results_page(sized_page(), site)
    press_email(page, "ada@gmial.com")
    assert_no_axe_violations(page, axe_source, EMAIL_FORM)
    page.get_by_role("button", name="Send to ada@gmial.com as typed").click()
    expect_heading(page, DELIVERED)
    assert delivery_fact(page, "To") == "ada@gmial.com"
    assert_no_axe_violations(page, axe_source)


def test_the_queued_page_updates_itself_when_the_message_is_delivered(
    sized_page: SizedPage, relay_down: StudentSite, axe_source: str
) -> None:
    page = queued_page(sized_page(), relay_down)
    assert_no_axe_violations(page, axe_source)
    page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    relay_down.relay_up()
    [record] = relay_down.deliver_queued()
    assert record.state == "sent"
    live = page.locator("[aria-live=polite]")
    expect(live.get_by_role("heading", level=1)).to_have_text(DELIVERED, timeout=UPDATE_TIMEOUT_MS)
    expect(live).to_contain_text("look in your spam folder")
    expect(page.get_by_role("link", name="Check again")).to_have_count(0)
    expect(page).to_have_title(f"{DELIVERED} · QuizMail")
    assert page.evaluate("window.sameDocument") is True
    assert delivery_fact(page, "Server's reply").startswith("250 ")
    assert_no_axe_violations(page, axe_source)


def test_without_javascript_the_queued_page_offers_to_check_again(
    sized_page: SizedPage, relay_down: StudentSite
) -> None:
    page = queued_page(sized_page(javascript=False), relay_down)
    relay_down.relay_up()
    relay_down.deliver_queued()
    page.get_by_role("link", name="Check again").click()
    expect_heading(page, DELIVERED)


def test_the_refused_page_says_why_and_leads_back_to_try_another_address(
    sized_page: SizedPage, site: StudentSite, axe_source: str
) -> None:
    page = results_page(sized_page(), site)
    press_email(page, "ada@elsewhere.example")
    expect_heading(page, REFUSED)
    expect(page.locator(".email-summary")).to_contain_text("does not take mail for this address")
    assert_no_axe_violations(page, axe_source)
    page.get_by_role("link", name="Go back to your results to try another address").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("your results")
    expect(page.get_by_role("heading", name="Email my results")).to_be_in_viewport()
    press_email(page, "ada@students.example")
    expect_heading(page, DELIVERED)
