"""Real clients from Debian — telnet, nc (netcat-openbsd) and socat — take a quiz and email the
results, which land in the capture server's Maildir."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import subprocess
import time

import pytest
from telnet_support import PROMPTS, Site, captured_messages, quiz_number, results_json

READ_TIMEOUT = 20.0


class ProcessClient:
    """A client program on a terminal of its own (a pty, as a person runs it), driven as a
    person would: wait for the prompt, type a line."""

    def __init__(self, argv: list[str]) -> None:
        self.terminal, child = pty.openpty()
        self.process = subprocess.Popen(
            argv, stdin=child, stdout=child, stderr=child, start_new_session=True
        )
        os.close(child)
        self.received = b""

    def read_until(self, *endings: bytes) -> str:
        endings = endings or PROMPTS
        deadline = time.monotonic() + READ_TIMEOUT
        while not any(self.received.endswith(end) for end in endings):
            ready, _, _ = select.select([self.terminal], [], [], deadline - time.monotonic())
            assert ready, f"no prompt in {READ_TIMEOUT} s: {self.received[-500:]!r}"
            chunk = os.read(self.terminal, 65536)
            assert chunk, f"closed: {self.received[-500:]!r}"
            self.received += chunk
        text, self.received = self.received.decode("utf-8"), b""
        return text

    def line(self, text: str, *endings: bytes) -> str:
        self.type(text + "\n")  # Enter: the client sends CR LF (telnet, socat crnl) or LF (nc)
        return self.read_until(*endings)

    def type(self, text: str) -> None:
        os.write(self.terminal, text.encode())

    def finish(self) -> str:
        """Type quit; what the client printed until the server closed."""
        self.type("quit\n")
        deadline = time.monotonic() + READ_TIMEOUT
        while b"Bye." not in self.received and time.monotonic() < deadline:
            if select.select([self.terminal], [], [], 1)[0]:
                try:
                    self.received += os.read(self.terminal, 65536)
                except OSError:  # the client exited and took its terminal with it
                    break
        with contextlib.suppress(OSError):
            self.type("\x04")  # end of input: nc waits for it once the server has closed
        self.process.wait(READ_TIMEOUT)
        return self.received.decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.terminal)


def client_argv(name: str, port: int) -> list[str]:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (.ci/system-deps installs it)")
    argv = {
        "telnet": ["telnet", "127.0.0.1", str(port)],
        "nc": ["nc", "-N", "127.0.0.1", str(port)],
        "socat": ["socat", "-", f"TCP:127.0.0.1:{port},crnl"],
    }
    return argv[name]


@pytest.mark.parametrize("name", ["telnet", "nc", "socat"])
def test_a_real_client_takes_the_quiz_and_emails_the_results(site: Site, name: str) -> None:
    client = ProcessClient(client_argv(name, site.port))
    try:
        menu = client.read_until()
        first = client.line(quiz_number(menu, "A timed quiz"))
        assert "Question 1 of 2" in first
        client.line("a")
        client.line("B")
        graded = client.line("submit")
        assert "Score:  1 of 2 points (50%)" in graded
        address = f"zoe.{name}@example.org"
        if name == "telnet":  # its NVT mode drops bytes of UTF-8 (0x85 of Å): binary keeps them
            client.type("\x1d")  # Ctrl-], telnet's escape
            client.line("toggle binary", b"Negotiating binary mode with remote host.\r\n")
        outcome = client.line(f"email {address} Zoë Ångström")
        assert "Your results were handed to the mail server" in outcome
        transcript = client.line("transcript")
        assert f"C: RCPT TO:<{address}>" in transcript
        assert "Bye." in client.finish()
    finally:
        client.kill()
    (message,) = captured_messages(site.store(), address, 1)
    assert message["To"] == f"Zoë Ångström <{address}>"
    doc = results_json(message)
    assert doc["student"] == {"email": address, "name": "Zoë Ångström"}
    assert [q["chosen"] for q in doc["questions"]] == [["yes"], ["no"]]
