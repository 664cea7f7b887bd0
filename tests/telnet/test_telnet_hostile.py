"""Bad input over real sockets: binary junk, IAC sequences, a 1 MB line, thousands of blank lines,
an idle client, 200 sessions at once, a disconnect mid-quiz, too many sessions, and the email
limits — each one line or a clean close, no traceback, no other session disturbed."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from telnet_support import ADA, Client, Site, captured_messages, quiz_number, site_fixture

from app.quiz.attempts import LATE_GRACE
from app.telnet.dialogue import STAGES, Dialogue
from app.telnet.server import INTERNAL_ERROR
from app.telnet.wire import CONTROLS, DO, DONT, IAC, IP, NOT_UTF8, SB, SE, TOO_LONG, WILL, WONT

ECHO, LINEMODE, NAWS = 1, 34, 31


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "Error" not in text


def read_raw_until(sock: socket.socket, ending: bytes) -> bytes:
    data = b""
    while not data.endswith(ending):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_iac_negotiation_is_refused_once_and_the_quiz_goes_on(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        menu = read_raw_until(sock, b"quiz> ").decode()
        number = quiz_number(menu, "A timed quiz").encode()
        negotiation = bytes(
            [IAC, DO, ECHO, IAC, WILL, LINEMODE, IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]
        )
        sock.sendall(negotiation + number[:1] + negotiation + number[1:] + b"\r\n")
        answer = read_raw_until(sock, b"answer> ")
        refusals = bytes([IAC, WONT, ECHO, IAC, DONT, LINEMODE])
        assert answer.startswith(refusals)
        assert answer.count(b"\xff") == 2  # each option refused once, and nothing else
        assert b"Question 1 of 2" in answer


def test_binary_junk_is_one_line_and_the_session_goes_on(site: Site) -> None:
    with Client(site.port) as client:
        # Line ends, and IAC (Telnet commands, tested on their own), left out of the junk.
        junk = bytes(b for b in os.urandom(600) if b not in b"\r\n\xff")
        answer = client.line("", end=b"\xc3" + junk + b"\n")  # a lone lead byte: never UTF-8
        assert " ".join(answer.split()) == f"{NOT_UTF8} quiz>"
        assert_no_traceback(answer)
        assert "Question 1 of" in client.line("1")


def test_controls_in_a_line_are_one_line(site: Site) -> None:
    with Client(site.port) as client:
        assert " ".join(client.line("\x1b[A\x07").split()) == f"{CONTROLS} quiz>"


def test_a_megabyte_line_is_refused_in_one_line(site: Site) -> None:
    with Client(site.port) as client:
        client.send(b"a" * 1_000_000)
        answer = client.line("")
        assert answer == TOO_LONG + "\r\nquiz> "
        assert "Question 1 of" in client.line("1")


def test_thousands_of_blank_lines_close_the_session_in_one_line(site: Site) -> None:
    with Client(site.port) as client:
        client.send(b"\r\n" * 5000)
        text = client.read_to_close()
        assert text.endswith("Closing: too many empty lines in a row.\r\n")
        assert set(text.removesuffix("Closing: too many empty lines in a row.\r\n")) <= set(
            "quiz> "
        )


def test_a_disconnect_mid_quiz_leaves_the_others_alone(site: Site) -> None:
    with Client(site.port) as other:
        other.line("1")
        with Client(site.port) as leaving:
            leaving.line("1")
            leaving.send(b"a\r\n")
        # gone mid-quiz, with a line unanswered: the other session answers as before
        assert "Question 2 of" in other.line("a")


def test_two_hundred_sessions_at_once_each_take_the_quiz(site: Site) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(200)

    def take() -> None:
        try:
            with Client(site.port, timeout=60) as client:
                start.wait(60)
                number = quiz_number(client.greeting, "A timed quiz")
                client.line(number)
                client.line("a")
                summary = client.line("b")
                assert "You have answered 2 of 2 questions." in summary
                assert "Score:  1 of 2 points (50%)" in client.line("submit")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]


def test_disconnect_while_the_server_writes_is_clean(site: Site) -> None:
    for _ in range(20):  # the review is long: leave while it is being written
        with Client(site.port) as client:
            client.line("1")
            client.send(b"skip\r\nskip\r\nskip\r\nskip\r\nsubmit\r\nreview\r\nreview\r\n")
    with Client(site.port) as client:
        assert "Question 1 of" in client.line("1")


# --- the server's clock and the time limit ------------------------------------------------------


def test_a_late_answer_is_not_counted_and_the_time_in_time_is(site: Site) -> None:
    with Client(site.port) as client:
        client.line(quiz_number(client.greeting, "A timed quiz"))
        first = client.line("a")  # in time
        assert "10 min left" in first or "9 min left" in first
        site.clock.offset = timedelta(minutes=11)
        late = client.line("a")
        assert "Your answers arrived after the time limit." in late
        assert "Score:  " in late
        assert "results> " in late


def test_the_server_ends_a_silent_timed_quiz_by_itself(site: Site) -> None:
    with Client(site.port) as client:
        client.line(quiz_number(client.greeting, "A timed quiz"))
        # one second of real time before the deadline and its grace: the session wakes itself
        site.clock.offset = timedelta(minutes=10) + LATE_GRACE - timedelta(seconds=1)
        client.line("skip")
        text = client.read_until(b"results> ")
        assert "none had been saved before the deadline" in text.replace("\r\n", " ")
        assert "Score:  0 of 2 points (0%)" in text


# --- idle clients and too many sessions ---------------------------------------------------------


@pytest.fixture
def impatient_site(tmp_path: Path) -> Iterator[Site]:
    yield from site_fixture(tmp_path, idle_timeout=0.5, max_sessions=3)


def test_an_idle_client_is_told_before_it_is_closed(impatient_site: Site) -> None:
    with Client(impatient_site.port) as client:
        assert client.read_to_close() == "Closing: no input for 0.5 seconds.\r\n"


def test_a_session_past_the_limit_is_turned_away_in_one_line(impatient_site: Site) -> None:
    clients = [Client(impatient_site.port).__enter__() for _ in range(3)]
    try:
        with socket.create_connection(("127.0.0.1", impatient_site.port), timeout=10) as extra:
            text = b""
            while chunk := extra.recv(1024):
                text += chunk
        assert text.decode().count("\n") == 1
        assert text.startswith(b"Sorry, too many people")
    finally:
        for client in clients:
            client.close()


# --- the email limits are the web's -------------------------------------------------------------


def test_the_fourth_email_of_an_attempt_is_refused_as_on_the_web(site: Site) -> None:
    with Client(site.port) as client:
        client.line(quiz_number(client.greeting, "A timed quiz"))
        client.line("a")
        client.line("a")
        client.line("submit")
        for n in range(3):
            assert "handed to the mail server" in client.line(f"email ada+{n}@example.org")
        refused = client.line("email ada@example.org").replace("\r\n", " ")
        assert (
            "Too many emails for these results. These results have already been emailed 3"
            in refused
        )
    assert captured_messages(site.store(), ADA, 0) == []
    assert len(captured_messages(site.store(), "ada+2@example.org", 1)) == 1


def test_ctrl_c_in_telnet_ends_the_session_in_one_line(site: Site) -> None:
    with Client(site.port) as client:
        client.line(quiz_number(client.greeting, "A timed quiz"))
        client.send(bytes([IAC, IP]))
        assert (
            client.read_to_close() == "Bye. The quiz was not submitted, so it was not graded.\r\n"
        )


def test_a_bug_in_one_session_is_one_line_to_it_and_nothing_to_the_others(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    menu_line = Dialogue._menu_line

    def buggy(self: Dialogue, command: str, rest: str, text: str) -> object:
        if text == "boom":
            raise RuntimeError("a bug")
        return menu_line(self, command, rest, text)

    monkeypatch.setitem(STAGES, "menu", buggy)
    with Client(site.port) as other, Client(site.port) as failing:
        failing.send(b"boom\r\n")
        assert failing.read_to_close() == INTERNAL_ERROR.replace("\n", "\r\n")
        assert "Question 1 of" in other.line(quiz_number(other.greeting, "A timed quiz"))
    assert "telnet session with" in caplog.text
    assert "RuntimeError: a bug" in caplog.text
