"""A private Postfix for tests: its own configuration and queue under a temporary directory.

smtpd listens on a free loopback port and every message goes on to one relay host (the capture
server under test), with DNS off, so nothing leaves the machine. Postfix bounces what the relay
refuses at once (no queue lifetime), with ``MAIL FROM:<>`` as every mailer does. Needs Debian's
``postfix`` package (installed by .ci/system-deps, never configured as the system's MTA) and
root, because Postfix's daemons drop privileges to the ``postfix`` user.

Given ``maildirs=`` (a list of addresses) instead, Postfix is the final destination for their
domains and delivers each address's mail into a Maildir of its own under ``maildir_root``, with
its virtual(8) delivery agent (local delivery that needs no Unix account per address), as a
mail server people run does: each message is fsynced in the queue before smtpd's 250, then
written, fsynced and renamed into ``new/`` by the delivery agent, Postfix's own defaults
throughout. The benchmarks use it as the peer of the capture server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

START_SECONDS = 20.0  # a cold start on a loaded 2-core machine takes a second or two

#: The services a relaying Postfix needs (postconf -M of Debian's master.cf, trimmed).
MASTER_SERVICES = """\
pickup    unix  n  -  n  60     1  pickup
cleanup   unix  n  -  n  -      0  cleanup
qmgr      unix  n  -  n  300    1  qmgr
rewrite   unix  -  -  n  -      -  trivial-rewrite
bounce    unix  -  -  n  -      0  bounce
defer     unix  -  -  n  -      0  bounce
trace     unix  -  -  n  -      0  bounce
verify    unix  -  -  n  -      1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -      -  proxymap
smtp      unix  -  -  n  -      -  smtp
relay     unix  -  -  n  -      -  smtp
showq     unix  n  -  n  -      -  showq
error     unix  -  -  n  -      -  error
retry     unix  -  -  n  -      -  error
discard   unix  -  -  n  -      -  discard
anvil     unix  -  -  n  -      1  anvil
scache    unix  -  -  n  -      1  scache
postlog   unix-dgram n  -  n  -  1  postlogd
"""
#: The delivery agent of the Maildir mode (Debian's master.cf line).
VIRTUAL_SERVICE = "virtual   unix  -  n  n  -      -  virtual\n"


def missing_reason() -> str | None:
    """Why a private Postfix cannot run here, or None."""
    if shutil.which("postfix") is None:
        return "Postfix is not installed (Debian package postfix, see .ci/system-deps)"
    if os.geteuid() != 0:
        return "a private Postfix needs root: its daemons run as the postfix user"
    return None


class PrivatePostfix:
    """``with PrivatePostfix(smtpd_port, relay_port) as postfix:`` … relays to *relay_port*;
    ``with PrivatePostfix(smtpd_port, maildirs=["ada@school.example"]) as postfix:`` … delivers
    into ``postfix.maildir("ada@school.example")`` (and refuses other recipients with 550).

    The instance lives in a directory of its own under *parent* (the system's temp dir by
    default), removed at the end: pytest's temp dirs are private to root, and the postfix user
    must reach its queue. A benchmark passes *parent* to put queue and Maildirs on the disk it
    measures.
    """

    def __init__(
        self,
        smtpd_port: int,
        relay_port: int | None = None,
        *,
        maildirs: Iterable[str] = (),
        parent: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """*settings* are main.cf parameters that replace or add to the ones below."""
        self.maildir_addresses = list(maildirs)
        if (relay_port is None) == (not self.maildir_addresses):
            raise ValueError("give either relay_port or maildirs")
        self.directory = Path(tempfile.mkdtemp(prefix="quizmail-postfix-", dir=parent))
        self.smtpd_port = smtpd_port
        self.relay_port = relay_port
        self.settings = dict(settings or {})
        self.config = self.directory / "etc"
        self.maillog = self.directory / "maillog"
        self.maildir_root = self.directory / "maildirs"

    def __enter__(self) -> PrivatePostfix:
        self._write_configuration()
        try:
            self._postfix("start")
            self._wait_for_smtpd()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._postfix("stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        """The instance's log, for an assertion's message."""
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def maildir(self, address: str) -> Path:
        """The Maildir that *address*'s mail is delivered into (one of ``maildirs``)."""
        return self.maildir_root / address

    def _write_configuration(self) -> None:
        for sub in ("etc", "queue", "data"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # the postfix user must reach its queue and data
        shutil.chown(self.directory / "data", "postfix")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.directory / "queue",
            "data_directory": self.directory / "data",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "relay.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtp_dns_support_level": "disabled",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.directory,
            # What the relay refuses is bounced at once; what it defers is given up at once.
            "bounce_queue_lifetime": "0",
            "maximal_queue_lifetime": "0",
            **self.settings,
        }
        services = MASTER_SERVICES
        if self.relay_port is not None:
            settings["relayhost"] = f"[127.0.0.1]:{self.relay_port}"
        else:
            settings.update(self._maildir_settings())
            services += VIRTUAL_SERVICE
        (self.config / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        smtpd = f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd\n"
        (self.config / "master.cf").write_text(smtpd + services)

    def _maildir_settings(self) -> dict[str, object]:
        """virtual(8) delivery: each address to the Maildir ``maildir_root/ADDRESS/`` (the
        trailing slash asks for Maildir), written as the postfix user."""
        self.maildir_root.mkdir()
        shutil.chown(self.maildir_root, "postfix", "postfix")
        table = self.config / "mailboxes"
        table.write_text("".join(f"{a} {a}/\n" for a in self.maildir_addresses))
        domains = sorted({address.rpartition("@")[2] for address in self.maildir_addresses})
        return {
            "virtual_mailbox_domains": " ".join(domains),
            "virtual_mailbox_base": self.maildir_root,
            # texthash: read by each daemon at start, no postmap step
            "virtual_mailbox_maps": f"texthash:{table}",
            "virtual_uid_maps": f"static:{pwd.getpwnam('postfix').pw_uid}",
            "virtual_gid_maps": f"static:{pwd.getpwnam('postfix').pw_gid}",
        }

    def _postfix(self, command: str) -> None:
        # Postfix's commands report to the log (no syslog here), not to a stderr that is no tty.
        done = subprocess.run(
            ["postfix", "-c", str(self.config), command], capture_output=True, check=False
        )
        if done.returncode != 0 and command == "start":
            raise RuntimeError(f"postfix {command} failed:\n{self.log()}")

    def _wait_for_smtpd(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.smtpd_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(
            f"Postfix's smtpd did not listen within {START_SECONDS} s:\n{self.log()}"
        )
