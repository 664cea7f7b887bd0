"""Debian's fetchmail, an independent POP3 client, fetches a captured mailbox."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.pop3 import POP3Controller
from app.store import MailStore

from .conftest import ADA, PASSWORDS

FETCHMAIL = shutil.which("fetchmail")


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed (make system-deps)")
def test_fetchmail_fetches_and_deletes_a_mailbox(
    server: POP3Controller, store: MailStore, tmp_path: Path
) -> None:
    assert FETCHMAIL is not None
    out = tmp_path / "fetched.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 protocol POP3 port {server.port} auth password\n"
        f'  user "{ADA}" there with password "{PASSWORDS[ADA]}"\n'
        f"  options fetchall no keep sslproto '' mda \"cat >> {out}\"\n"
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
    command = [FETCHMAIL, "-f", str(rc), "--nodetach", "--nosyslog", "--nosslcertck"]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    fetched = out.read_bytes()
    for subject in (b"Subject: one", b"Subject: dots", b"Subject: three"):
        assert subject in fetched
    assert b"\n.leading dot\n..two dots\n.\nend\n" in fetched.replace(b"\r\n", b"\n")
    assert store.keys(ADA) == []  # fetchmail sent DELE for each, then QUIT
