"""``quizmail client``'s menus: log in, then Manage Mail, Send Mail and Quit, as the seed's
terminal mail client had them, with what a person expects of a real one.

Every prompt reads a line from standard input, so the client can be scripted
(``printf '1\\nq\\n3\\n' | quizmail client …``); on a terminal the password is not echoed and the
list is paged to the window's height. Ctrl-C and Ctrl-D at any prompt end the client with a
message: the POP3 session is closed without applying any deletion (RSET, QUIT).
"""

from __future__ import annotations

import getpass
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from app.mua.compose import END_OF_MESSAGE, INCORRECT_FORMAT, IncorrectFormat, parse_draft
from app.mua.display import message_lines
from app.mua.session import Changes, MailSession
from app.pop3client import POP3AuthenticationError, POP3Error
from app.words import counted

MENU = "\n1) Manage Mail   2) Send Mail   3) Quit"
LOGIN_TRIES = 3
DELETION_NOTE = "deletions take effect when you quit (RFC 1939: at QUIT), not before"


class EndOfInput(Exception):
    """Ctrl-D (or the end of a script) at a prompt."""


@dataclass
class Console:
    """Prompts and output on a pair of streams; pages only on a terminal."""

    stdin: TextIO
    stdout: TextIO

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty() and self.stdout.isatty()

    def ask(self, prompt: str) -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            self.stdout.write("\n")
            raise EndOfInput
        return line.rstrip("\r\n")

    def ask_secret(self, prompt: str) -> str:
        if not self.interactive:
            return self.ask(prompt)
        try:
            return getpass.getpass(prompt, stream=self.stdout)
        except EOFError:
            raise EndOfInput from None

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def page(self, lines: Iterable[str]) -> None:
        """Print *lines*, a window's height at a time on a terminal."""
        lines = list(lines)
        height = max(3, shutil.get_terminal_size().lines - 2) if self.interactive else len(lines)
        for start in range(0, len(lines), height or 1):
            if start:
                more = self.ask(
                    f"-- more ({start} of {len(lines)} lines): Enter goes on, q stops -- "
                )
                if more.strip().lower() == "q":
                    return
            for line in lines[start : start + height]:
                self.say(line)


class NotSent(Exception):
    """The message could not be sent; ``str`` says why, in one line."""


#: Sends a draft (sender, recipients, subject, text), or raises :class:`NotSent`.
Sender = Callable[[str, list[str], str, str], None]
#: A session, not yet open, for a server ("HOST[:PORT]"), user and password; ValueError for a
#: server that is no HOST[:PORT].
SessionMaker = Callable[[str, str, str], MailSession]


@dataclass
class Login:
    """What the command line gave already; the rest is asked for."""

    default_server: str
    server: str | None = None
    user: str | None = None
    password: str | None = None


class TerminalClient:
    def __init__(
        self, console: Console, make_session: SessionMaker, send: Sender, login: Login
    ) -> None:
        self.console = console
        self.make_session = make_session
        self.send = send
        self.login = login
        self.session: MailSession | None = None

    def run(self) -> int:
        """Log in, then the menus until Quit; the exit status (0; 1 when the login or the
        session failed; 130 after Ctrl-C, as shells have it)."""
        try:
            self.session = self._log_in()
            if self.session is None:
                return 1
            self._main_menu()
        except KeyboardInterrupt:
            self._leave("\nInterrupted: nothing was deleted, and the session is closed.")
            return 130
        except EndOfInput:
            self._leave("End of input: nothing was deleted, and the session is closed.")
        except POP3Error as exc:
            self._leave(f"The POP3 session ended: {exc}")
            return 1
        return 0

    def _leave(self, why: str) -> None:
        self.console.say(why)
        if self.session is not None:
            self._mail().abandon()

    def _log_in(self) -> MailSession | None:
        """Ask for what is missing until the server takes it (at most three times)."""
        given = self.login
        for _ in range(LOGIN_TRIES):
            server = given.server or self.console.ask(f"POP3 server [{given.default_server}]: ")
            user = given.user or self.console.ask("User: ").strip()
            password = given.password or self.console.ask_secret("Password: ")
            try:
                session = self.make_session(server.strip() or given.default_server, user, password)
                session.open()
            except ValueError as exc:
                self.console.say(f"{exc}")
                given.server = None
                continue
            except POP3AuthenticationError as exc:
                self.console.say(f"Login failed: the server answered {exc.response}")
                given.password = None
                continue
            self.console.say(f"Logged in as {user}: {counted(len(session.live), 'message')}.")
            return session
        self.console.say(f"Login failed {LOGIN_TRIES} times; giving up.")
        return None

    def _mail(self) -> MailSession:
        assert self.session is not None  # run() logs in before any menu
        return self.session

    def _main_menu(self) -> None:
        while True:
            self.console.say(MENU)
            choice = self.console.ask("Choice: ").strip()
            if choice == "1":
                self._manage_mail()
            elif choice == "2":
                self._send_mail()
            elif choice == "3":
                self._quit()
                return
            else:
                self.console.say(f"Unknown choice {choice!r}: type 1, 2 or 3.")

    # --- Manage Mail ---------------------------------------------------------------------------

    def _manage_mail(self) -> None:
        # A session sees the maildrop as it was at login (RFC 1939 §8): mail that came since
        # (sent with Send Mail, say) needs a new one; its deletions carry over.
        self._report(self._mail().refresh())
        while True:
            self._show_list()
            answer = self.console.ask("Message number to read, r to refresh, q to go back: ")
            answer = answer.strip().lower()
            if answer == "q":
                return
            if answer == "r":
                self._report(self._mail().refresh())
                continue
            number = self._message_number(answer)
            if number is not None:
                self._read(number)

    def _show_list(self) -> None:
        live = self._mail().live
        if not live:
            self.console.say("\nNo messages.")
        else:
            header = f"{'No.':>4} {'Sender':<30} {'Received':<16}  Subject"
            self.console.page(["", header, *(e.line for e in live)])
        if self._mail().marked:
            marked = counted(self._mail().marked, "message")
            self.console.say(f"({marked} marked for deletion: {DELETION_NOTE}.)")
        if self._mail().without_uidl:
            self.console.say("(This server lists no unique ids: numbers may change on refresh.)")

    def _report(self, changes: Changes) -> None:
        if changes.new:
            self.console.say(f"{counted(changes.new, 'new message')}.")
        if changes.gone:
            numbers = ", ".join(map(str, changes.gone))
            self.console.say(
                f"Gone from the server since the last list: {numbers} (the other numbers stay)."
            )

    def _message_number(self, answer: str) -> int | None:
        numbers = [e.number for e in self._mail().live]
        if not answer.isdigit() or not answer.isascii():
            self.console.say(
                f"{answer!r} is not a message number: type a number from the list, r or q."
            )
            return None
        number = int(answer)
        if number not in numbers:
            where = (
                f"the list has {', '.join(map(str, numbers))}" if numbers else "the list is empty"
            )
            self.console.say(f"There is no message {number}: {where}.")
            return None
        return number

    def _read(self, number: int) -> None:
        self.console.page(["", *message_lines(self._mail().read(number))])
        while True:
            answer = self.console.ask("d to delete this message, q to go back: ").strip().lower()
            if answer in ("q", ""):
                return
            if answer == "d":
                self._mail().delete(number)
                self.console.say(f"Message {number} marked for deletion: {DELETION_NOTE}.")
                return
            self.console.say(f"Unknown choice {answer!r}: d deletes the message, q goes back.")

    # --- Send Mail -------------------------------------------------------------------------------

    def _send_mail(self) -> None:
        self.console.say(
            "Type the From:, To: and Subject: lines in that order, then the message; end it with "
            'a line holding only "."'
        )
        lines: list[str] = []
        while (line := self.console.ask("")) != END_OF_MESSAGE:
            lines.append(line)
        try:
            draft = parse_draft(lines)
        except IncorrectFormat as exc:
            self.console.say(f"{INCORRECT_FORMAT}: {exc}.")
            return
        try:
            self.send(draft.sender, draft.to, draft.subject, draft.text)
        except NotSent as exc:
            self.console.say(f"Mail not sent: {exc}")
            return
        self.console.say("Mail sent successfully")

    # --- Quit ---------------------------------------------------------------------------------

    def _quit(self) -> None:
        deleted = self._mail().quit()
        if deleted:
            self.console.say(f"{counted(deleted, 'message')} deleted on the server.")
        self.console.say("Goodbye.")
