"""``quizmail client`` in a real pseudo-terminal (pexpect): the password is not echoed, the list
is paged to the window, a message is read and deleted, a message sent appears in the list, and
Ctrl-C leaves every message where it was."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pexpect
import pytest

from .conftest import ADA, PASSWORD, QUIZMAIL, MailServers

ROWS = 12  # a small window, so that a list of 20 messages takes two pages


@pytest.fixture
def terminal(servers: MailServers) -> Iterator[pexpect.spawn]:
    args = ["client", "--smtp-server", servers.smtp_address]
    # The window's size as shells pass it on (LINES/COLUMNS come first for get_terminal_size).
    env = {**os.environ, "LINES": str(ROWS), "COLUMNS": "100"}
    child = pexpect.spawn(
        QUIZMAIL, args, dimensions=(ROWS, 100), env=env, encoding="utf-8", timeout=20
    )
    child.expect_exact("POP3 server [127.0.0.1:8110]: ")
    child.sendline(servers.pop3_address)
    child.expect_exact("User: ")
    child.sendline(ADA)
    child.expect_exact("Password: ")
    child.sendline(PASSWORD)
    yield child
    child.close(force=True)


def test_log_in_list_read_delete_send_and_see_it(
    terminal: pexpect.spawn, servers: MailServers
) -> None:
    child = terminal
    child.expect(r"Logged in as ada@example.org: 0 messages\.")
    assert PASSWORD not in child.before  # getpass: nothing echoed
    child.expect_exact("Choice: ")
    child.sendline("2")
    child.expect_exact('a line holding only "."')
    for line in (
        "From: bob@example.org",
        "To: ada@example.org",
        "Subject: sent from the terminal",
        "",
        "Hello Ada,",
        ".. and a dotted line",
        ".",
    ):
        child.sendline(line)
    child.expect_exact("Mail sent successfully")
    child.expect_exact("Choice: ")
    child.sendline("1")
    child.expect(r"1\. bob@example\.org +\d{4}-\d\d-\d\d \d\d:\d\d  sent from the terminal")
    child.expect_exact("q to go back: ")
    child.sendline("1")
    child.expect_exact("Subject: sent from the terminal")
    child.expect_exact(". and a dotted line")
    child.expect_exact("d to delete this message, q to go back: ")
    child.sendline("d")
    child.expect_exact("Message 1 marked for deletion: deletions take effect when you quit")
    child.expect_exact("No messages.")
    child.expect_exact("q to go back: ")
    child.sendline("q")
    child.expect_exact("Choice: ")
    assert servers.count() == 1  # not yet: only at QUIT
    child.sendline("3")
    child.expect_exact("1 message deleted on the server.")
    child.expect(pexpect.EOF)
    assert servers.count() == 0


def test_the_list_is_paged_to_the_window(servers: MailServers, terminal: pexpect.spawn) -> None:
    child = terminal
    child.expect_exact("Choice: ")
    for n in range(20):
        servers.deliver(f"message number {n + 1}")
    child.sendline("1")  # the session was opened before the mail came: Manage Mail asks again
    child.expect_exact("20 new messages.")
    child.expect_exact("-- more (")
    assert "message number 20" not in child.before
    pages = 1
    while True:
        child.sendline("")
        pages += 1
        if child.expect_exact(["-- more (", "message number 20"]) == 1:
            break
    assert pages == 3  # 22 lines, 10 to a window of 12 rows
    child.expect_exact("q to go back: ")
    child.sendline("q")
    child.expect_exact("Choice: ")
    child.sendline("3")
    child.expect(pexpect.EOF)


def test_ctrl_c_deletes_nothing(servers: MailServers, terminal: pexpect.spawn) -> None:
    child = terminal
    child.expect_exact("Choice: ")
    servers.deliver("precious")
    child.sendline("1")
    child.expect_exact("q to go back: ")
    child.sendline("1")
    child.expect_exact("d to delete this message, q to go back: ")
    child.sendline("d")
    child.expect_exact("q to go back: ")
    child.sendintr()
    child.expect_exact("Interrupted: nothing was deleted, and the session is closed.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")
    assert servers.count() == 1


def test_ctrl_d_at_the_password_prompt(servers: MailServers) -> None:
    child = pexpect.spawn(
        QUIZMAIL,
        ["client", "--server", servers.pop3_address, "--user", ADA],
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("Password: ")
    child.sendeof()
    child.expect_exact("End of input: nothing was deleted, and the session is closed.")
    child.expect(pexpect.EOF)


@pytest.mark.parametrize(
    ("to_the_prompt", "prompt"),
    [
        ((), ""),  # the menu's Choice: is already out
        (("2", "From: bob@example.org"), ""),  # in the middle of a message being typed
        (("1",), "q to go back: "),
    ],
    ids=["menu", "send mail", "manage mail"],
)
def test_ctrl_c_at_any_prompt(
    servers: MailServers, terminal: pexpect.spawn, to_the_prompt: tuple[str, ...], prompt: str
) -> None:
    child = terminal
    child.expect_exact("Choice: ")
    for line in to_the_prompt:
        child.sendline(line)
    if prompt:
        child.expect_exact(prompt)
    time.sleep(0.2)  # the prompt is out; let the client reach its read
    child.sendintr()
    child.expect_exact("Interrupted: nothing was deleted, and the session is closed.")
    child.expect(pexpect.EOF)
    assert "Traceback" not in (child.before or "")


def test_ctrl_c_at_the_password_prompt(servers: MailServers) -> None:
    args = ["client", "--server", servers.pop3_address, "--user", ADA]
    child = pexpect.spawn(QUIZMAIL, args, encoding="utf-8", timeout=20)
    child.expect_exact("Password: ")
    child.sendintr()
    child.expect_exact("Interrupted: nothing was deleted")
    child.expect(pexpect.EOF)
    assert "Traceback" not in (child.before or "")
