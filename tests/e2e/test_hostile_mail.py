"""A hostile HTML email runs no script in the instructor's browser, on any page that shows it."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from journeys import open_message
from playwright.sync_api import ConsoleMessage, Dialog, Frame, Page, expect
from running_product import HOST, RunningProduct

pytestmark = pytest.mark.e2e

#: Each payload sets a flag in the instructor's page (and in its own frame), opens a dialog and
#: logs to the console: any one of them happening means a script ran.
RUN = "top.pwned=1;parent.pwned=1;window.pwned=1;console.log('pwned');alert('pwned')"
TEACHER = "teacher@school.example"
SUBJECT = 'Results <img src=x onerror="' + RUN + '">'
HOSTILE_HTML = f"""<!doctype html>
<html><head><script>{RUN}</script></head>
<body onload="{RUN}">
<p>Hello instructor, here are my results.</p>
<script>{RUN}</script>
<img src="x" onerror="{RUN}" alt="a broken image">
<p><a href="javascript:{RUN}">Open my gradebook</a></p>
<svg width="20" height="20" onload="{RUN}"><circle cx="10" cy="10" r="8"/></svg>
<iframe src="javascript:{RUN}"></iframe>
<object data="javascript:{RUN}"></object>
<form action="javascript:{RUN}"><button>Submit</button></form>
<div style="width:10px;height:10px" onmouseover="{RUN}">hover me</div>
</body></html>
"""


@dataclass
class ScriptWatch:
    """Dialogs and console lines of a page and its frames: a script that ran leaves one."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def console_message(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)

    def assert_nothing_ran(self, page: Page) -> None:
        assert self.dialogs == []
        assert [line for line in self.console if "pwned" in line] == []
        for frame in page.frames:
            assert frame_flag(frame) is None, f"a script ran in {frame.url}"


def frame_flag(frame: Frame) -> object:
    return frame.evaluate("() => window.pwned")


@pytest.fixture(scope="module")
def hostile_mail(product: RunningProduct) -> str:
    """Send it to the capture server with smtplib; its subject."""
    message = EmailMessage()
    message["From"] = "mallory@attacker.example"
    message["To"] = TEACHER
    message["Subject"] = SUBJECT
    message.set_content(f"Plain part <script>{RUN}</script>", cte="7bit")
    message.add_alternative(HOSTILE_HTML, subtype="html", cte="7bit")
    with smtplib.SMTP(HOST, product.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
    return SUBJECT


@pytest.fixture
def watched(instructor: Page) -> tuple[Page, ScriptWatch]:
    watch = ScriptWatch()
    instructor.on("dialog", watch.dialog)
    instructor.on("console", watch.console_message)
    return instructor, watch


def test_the_mailbox_lists_it_as_text(
    hostile_mail: str, watched: tuple[Page, ScriptWatch], product: RunningProduct
) -> None:
    page, watch = watched
    page.goto(product.base_url + "/instructor/mailbox")
    expect(page.get_by_role("link", name=hostile_mail, exact=True)).to_be_visible()
    expect(page.locator("img")).to_have_count(0)
    watch.assert_nothing_ran(page)


def test_the_message_page_runs_none_of_its_scripts(
    hostile_mail: str, watched: tuple[Page, ScriptWatch], product: RunningProduct
) -> None:
    page, watch = watched
    open_message(page, product.base_url, hostile_mail, TEACHER)
    page.wait_for_load_state("load")  # the frame's images (and their onerror) come first
    expect(page.locator("pre.message-text")).to_contain_text("Plain part <script>")
    page.get_by_role("tab", name="HTML").click()
    frame = page.frame_locator("iframe.message-html")
    expect(frame.get_by_text("Hello instructor, here are my results.")).to_be_visible()
    frame.get_by_text("Open my gradebook").click()
    frame.get_by_text("hover me").hover()
    watch.assert_nothing_ran(page)
    assert len(page.frames) == 2, [f.url for f in page.frames]  # no frame of the mail's own
    (html_frame,) = (f for f in page.frames if f != page.main_frame)
    left = html_frame.evaluate(
        """() => [...document.querySelectorAll('script, iframe, object, form, svg, [onload],'
              + ' [onerror], [onmouseover], [href^="javascript:" i]')].map(e => e.outerHTML)"""
    )
    assert left == [], "the sanitiser left active content in the HTML part"


def test_the_raw_source_shows_it_as_text(
    hostile_mail: str, watched: tuple[Page, ScriptWatch], product: RunningProduct
) -> None:
    page, watch = watched
    open_message(page, product.base_url, hostile_mail, TEACHER)
    page.get_by_role("tab", name="Raw").click()
    expect(page.locator("#part-raw pre.message-source")).to_contain_text('<svg width="20"')
    watch.assert_nothing_ran(page)
    page.get_by_role("link", name="Raw source on a page of its own").click()
    expect(page.locator("pre.message-source")).to_contain_text('<svg width="20"')
    expect(page.locator("img, svg, iframe, object")).to_have_count(0)
    watch.assert_nothing_ran(page)
