"""A private Dovecot POP3 server for tests and benchmarks: its own configuration under a temp dir.

``pop3`` listens on a free loopback port (and ``pop3s``, implicit TLS, on a second one when a
certificate is given), each user's mail is a Maildir the caller writes (``maildir(user)``), and the
users and passwords are the caller's. Passwords are stored as ``{PLAIN}`` so that APOP (RFC 1939
§7) works too: Dovecot then puts a timestamp in its greeting. Needs Debian's ``dovecot-pop3d``
(installed by .ci/system-deps, never configured as the system's server) and root, because
Dovecot's login and mail processes drop privileges to users of their own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

START_SECONDS = 20.0  # a cold start on a loaded 2-core machine takes a second or two
STOP_SECONDS = 10.0
MAIL_UID = 65534  # nobody: Dovecot refuses mail access as root (uid 0) and below first_valid_uid


def missing_reason() -> str | None:
    """Why a private Dovecot cannot run here, or None."""
    if shutil.which("dovecot") is None or not Path("/usr/lib/dovecot/pop3").exists():
        return "Dovecot's POP3 server is not installed (dovecot-pop3d, see .ci/system-deps)"
    if os.geteuid() != 0:
        return "a private Dovecot needs root: its login and mail processes change user"
    return None


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateDovecot:
    """``with PrivateDovecot({"alice": "secret"}) as dovecot:`` … ``dovecot.port``.

    Write messages into ``dovecot.maildir(user) / "new"`` (or ``"cur"``) before or while the
    server runs; ``deliver(user, raw)`` does it for one message. The Maildir directories are
    world-writable so the caller (root) and Dovecot's mail process (nobody) can both work in them.
    ``cert``/``key`` (PEM files) turn on STLS on ``port`` and implicit TLS on ``tls_port``.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        cert: Path | None = None,
        key: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="quizmail-dovecot-"))
        self.users = dict(users)
        self.cert, self.key = cert, key
        self.extra_settings = dict(settings or {})
        self.port = free_port()
        self.tls_port = free_port() if cert else None
        self.config = self.directory / "dovecot.conf"
        self.logfile = self.directory / "dovecot.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._delivered = 0

    def maildir(self, user: str) -> Path:
        """The user's Maildir (cur/new/tmp exist)."""
        return self.directory / "mail" / user / "Maildir"

    def deliver(self, user: str, raw: bytes) -> Path:
        """Put one message in the user's Maildir new/, written whole before it is renamed in."""
        self._delivered += 1
        name = f"{time.time_ns()}.M{self._delivered}P{os.getpid()}.quizmail-test"
        temporary = self.maildir(user) / "tmp" / name
        temporary.write_bytes(raw)
        temporary.chmod(0o666)
        final = self.maildir(user) / "new" / name
        temporary.rename(final)
        return final

    def log(self) -> str:
        """The instance's log, for an assertion's message."""
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def __enter__(self) -> PrivateDovecot:
        self._write_configuration()
        try:
            self._process = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._wait_for_listeners()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_configuration(self) -> None:
        self.directory.chmod(0o755)  # the dovecot, dovenull and nobody users must reach it
        for sub in ("run", "state"):
            (self.directory / sub).mkdir()
        for user in self.users:
            for sub in ("cur", "new", "tmp"):
                (self.maildir(user) / sub).mkdir(parents=True)
            for path in (
                self.maildir(user).parent,
                self.maildir(user),
                *self.maildir(user).iterdir(),
            ):
                path.chmod(0o777)
        passwd = self.directory / "passwd"
        passwd.write_text(
            "".join(f"{user}:{{PLAIN}}{pw}::::::\n" for user, pw in self.users.items())
        )
        self.config.write_text(self._configuration())

    def _configuration(self) -> str:
        d = self.directory
        settings = {
            "protocols": "pop3",
            "base_dir": d / "run",
            "state_dir": d / "state",
            "instance_name": d.name,
            "log_path": self.logfile,
            "info_log_path": self.logfile,
            "listen": "127.0.0.1",
            "default_internal_user": "dovecot",
            "default_login_user": "dovenull",
            "auth_mechanisms": "plain login apop",
            "disable_plaintext_auth": "no",
            "mail_location": "maildir:~/Maildir",
            "first_valid_uid": "1",
            "pop3_uidl_format": "%08Xu%08Xv",
            "ssl": "yes" if self.cert else "no",
            "login_greeting": "Dovecot ready.",
            **self.extra_settings,
        }
        if self.cert and self.key:
            settings["ssl_cert"] = f"<{self.cert}"
            settings["ssl_key"] = f"<{self.key}"
        lines = [f"{k} = {v}" for k, v in settings.items()]
        lines += [
            f"passdb {{\n  driver = passwd-file\n  args = {d / 'passwd'}\n}}",
            "userdb {\n  driver = static\n"
            f"  args = uid={MAIL_UID} gid={MAIL_UID} home={d / 'mail'}/%u\n}}",
            "service pop3-login {\n  inet_listener pop3 {\n"
            f"    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
            "  inet_listener pop3s {\n"
            f"    address = 127.0.0.1\n    port = {self.tls_port or 0}\n"
            f"    ssl = {'yes' if self.tls_port else 'no'}\n  }}\n}}",
            "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n"
            "  inet_listener imaps {\n    port = 0\n  }\n}",
        ]
        return "\n".join(lines) + "\n"

    def _wait_for_listeners(self) -> None:
        ports = [p for p in (self.port, self.tls_port) if p]
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            if all(_listening(port) for port in ports):
                return
            time.sleep(0.1)
        raise RuntimeError(f"Dovecot did not listen within {START_SECONDS} s:\n{self.log()}")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
