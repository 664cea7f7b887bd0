"""``quizmail client`` driven through plain standard input, as a script would: every menu, every
bad answer, and the session always closed with deletions applied only at Quit."""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import ADA, PASSWORD, MailServers, quizmail


def client(servers: MailServers, script: str) -> subprocess.CompletedProcess[str]:
    args = ["client", "--server", servers.pop3_address, "--smtp-server", servers.smtp_address]
    return quizmail(*args, stdin=f"{ADA}\n{PASSWORD}\n{script}")


def test_list_read_delete_and_quit(servers: MailServers) -> None:
    servers.deliver("Your quiz results", "You scored 9 of 10.\n")
    servers.deliver("café second")  # sent as an RFC 2047 encoded-word, listed decoded
    done = client(servers, "1\n1\nd\nq\n3\n")
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "Logged in as ada@example.org: 2 messages." in out
    assert "  1. quizmail@example.org " in out
    assert "café second" in out
    assert "Your quiz results" in out
    assert "You scored 9 of 10." in out
    assert "Subject: Your quiz results" in out
    assert "Message 1 marked for deletion: deletions take effect when you quit" in out
    assert "1 message deleted on the server." in out
    assert "Traceback" not in out + done.stderr
    assert servers.count() == 1


def test_the_list_line_format(servers: MailServers) -> None:
    servers.deliver("Format")
    out = client(servers, "1\nq\n3\n").stdout
    line = next(line for line in out.splitlines() if "Format" in line)
    number, sender, date, time, subject = line.split()
    assert (number, sender, subject) == ("1.", "quizmail@example.org", "Format")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", date)
    assert re.fullmatch(r"\d\d:\d\d", time)  # the received date, hour and minute


def test_send_mail_then_it_appears_in_the_list(servers: MailServers) -> None:
    script = (
        "2\nFrom: bob@example.org\nTo: ada@example.org\nSubject: hello from bob\n\n"
        "first line\n..a line with a dot\n.\n1\nq\n3\n"
    )
    done = client(servers, script)
    assert "Mail sent successfully" in done.stdout
    assert "hello from bob" in done.stdout.split("Mail sent successfully")[1]
    assert servers.count() == 1


@pytest.mark.parametrize(
    "draft",
    [
        "To: ada@example.org\nFrom: bob@example.org\nSubject: x\n",  # out of order
        "From: bob\nTo: ada@example.org\nSubject: x\n",  # not X@Y
        "From: bob@example.org\nTo: ada@@example.org\nSubject: x\n",
        "From: bob@example.org\nTo: ada@example.org\n",  # no Subject
        "",
    ],
)
def test_send_mail_with_an_incorrect_format(servers: MailServers, draft: str) -> None:
    done = client(servers, f"2\n{draft}.\n3\n")
    assert "Incorrect format" in done.stdout
    assert "Mail sent successfully" not in done.stdout
    assert done.stdout.count("1) Manage Mail") == 2  # the menu again
    assert servers.count() == 0


def test_bad_answers_each_get_a_message(servers: MailServers) -> None:
    servers.deliver("only one")
    done = client(servers, "7\nx\n1\nabc\n42\n0\n1\nz\nq\nq\n3\n")
    out = done.stdout
    assert "Unknown choice '7': type 1, 2 or 3." in out
    assert "Unknown choice 'x'" in out
    assert "'abc' is not a message number" in out
    assert "There is no message 42: the list has 1." in out
    assert "There is no message 0" in out
    assert "Unknown choice 'z': d deletes the message, q goes back." in out
    assert done.returncode == 0
    assert servers.count() == 1


def test_end_of_input_applies_no_deletion(servers: MailServers) -> None:
    servers.deliver("keep me")
    done = client(servers, "1\n1\nd\n")  # deleted, then the script ends without Quit
    assert "End of input: nothing was deleted, and the session is closed." in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert servers.count() == 1


def test_end_of_input_at_every_prompt(servers: MailServers) -> None:
    servers.deliver("one")
    for script in ("", "1\n", "1\n1\n", "2\n", "2\nFrom: a@b.c\n"):
        done = client(servers, script)
        assert "End of input" in done.stdout, script
        assert "Traceback" not in done.stderr
    done = quizmail("client", "--server", servers.pop3_address, stdin="")
    assert "End of input" in done.stdout


def test_a_wrong_password_is_asked_again(servers: MailServers) -> None:
    args = ["client", "--server", servers.pop3_address, "--user", ADA]
    done = quizmail(*args, stdin=f"wrong\n{PASSWORD}\n3\n")
    assert "Login failed: the server answered -ERR [AUTH]" in done.stdout
    assert "Logged in as ada@example.org" in done.stdout
    assert done.returncode == 0
    done = quizmail(*args, stdin="a\nb\nc\n")
    assert "Login failed 3 times; giving up." in done.stdout
    assert done.returncode == 1


def test_a_refresh_keeps_the_numbers(servers: MailServers) -> None:
    servers.deliver("first")
    servers.deliver("second")
    # Delete 1 and quit in one client, so that "second" stays; a new message comes; the
    # second client sees "second" as 1 and then the new one as 2 after its refresh.
    done = client(servers, "1\n1\nd\nr\nq\n3\n")
    assert "Message 1 marked for deletion" in done.stdout
    listing_after = done.stdout.rsplit("Received", 1)[1]
    assert "second" in listing_after
    assert "first" not in listing_after  # still marked after the refresh
    assert servers.count() == 1


def test_the_server_unreachable_is_one_line(servers: MailServers) -> None:
    done = quizmail("client", "--server", "127.0.0.1:1", stdin=f"{ADA}\n{PASSWORD}\n")
    assert done.returncode == 1
    assert "connecting to 127.0.0.1:1 failed" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    done = quizmail("client", "--server", "localhost:pop", stdin=f"{ADA}\n{PASSWORD}\n")
    assert "is not HOST[:PORT]" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
