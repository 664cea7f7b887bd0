"""``quizmail pop3`` and ``quizmail pop3-hash``."""

from __future__ import annotations

import contextlib
import os
import poplib
import signal
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import click
import pytest
from capture.capture_helpers import QUIZMAIL, free_port
from click.testing import CliRunner

from app.cli import main
from app.pop3.cli import pop3_options, pop3_services
from app.pop3.users import verify_password
from app.store import MailStore


def test_pop3_hash_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(main, ["pop3-hash", "--scheme", "scrypt"], input="pw 1\npw 1\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$")
    assert verify_password(stored, "pw 1")


def test_pop3_reports_a_bad_users_file_with_its_line(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("ada@example.org pw\nbroken\n")
    result = CliRunner().invoke(
        main, ["pop3", "--mailbox", str(tmp_path / "mbox"), "--pop3-users", str(users)]
    )
    assert result.exit_code == 1
    assert f"{users}:2: expected 'address password'" in result.output
    assert "Traceback" not in result.output


def test_pop3_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["pop3", "--mailbox", str(tmp_path / "mbox"), "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@contextlib.contextmanager
def quizmail(*args: str, **env: str) -> Iterator[list[str]]:
    """Run ``quizmail ARGS`` in a process; yield its banner, up to the POP3 line, once ready."""
    command = [QUIZMAIL, *args]
    environ = {**os.environ, **env}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environ) as process:
        assert process.stdout is not None
        try:
            yield banner_until_pop3(process.stdout)
        finally:
            process.send_signal(signal.SIGTERM)
    assert process.returncode == 0


def banner_until_pop3(stream: IO[str]) -> list[str]:
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if "POP3" in line:
            break
    return lines


def pop3_login(port: int, user: str, password: str) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    client.user(user)
    client.pass_(password)
    return client


def test_capture_with_pop3_port_serves_what_smtp_stored(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("ada@example.org ada-pw\n")
    smtp_port, pop3_port = free_port(), free_port()
    mailbox = str(tmp_path / "mbox")
    args = ["--port", str(smtp_port), "--mailbox", mailbox, "--pop3-users", str(users)]
    with quizmail("capture", *args, "--pop3-port", str(pop3_port)) as banner:
        assert banner[1] == f"POP3 on 127.0.0.1:{pop3_port}\n"
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail("quiz@localhost", ["ada@example.org"], b"Subject: hi\r\n\r\nHi\r\n")
        client = pop3_login(pop3_port, "ada@example.org", "ada-pw")
        assert b"Subject: hi" in client.retr(1)[1]
        client.quit()


def test_capture_without_pop3_port_runs_no_pop3() -> None:
    store = cast(MailStore, None)  # never touched without a port
    none = pop3_services(
        store,
        "127.0.0.1",
        pop3_port=None,
        pop3_users=None,
        pop3_instructor="instructor",
        tls_cert=None,
        tls_key=None,
    )
    assert none == []


def test_demo_prints_its_pop3_port_and_the_instructor_reads_mail(tmp_path: Path) -> None:
    ports = [str(free_port()) for _ in range(3)]
    args = ["--web-port", ports[0], "--smtp-port", ports[1], "--pop3-port", ports[2]]
    with quizmail("demo", *args, "--var", str(tmp_path), QUIZMAIL_INSTRUCTOR_PASSWORD="pw") as out:
        assert f"POP3:        127.0.0.1:{ports[2]}" in "".join(out)
        with smtplib.SMTP("127.0.0.1", int(ports[1]), timeout=10) as smtp:
            smtp.sendmail("quiz@localhost", ["ada@example.org"], b"Subject: hi\r\n\r\nHi\r\n")
        client = pop3_login(int(ports[2]), "instructor+ada@example.org", "pw")
        assert client.stat()[0] == 1
        client.quit()


def test_the_apop_setting_reaches_the_capture_servers_pop3(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("ada@example.org ada-pw\n")  # plain: APOP could work, and is offered
    settings = {"pop3_port": 8110, "pop3_users": users, "pop3_instructor": "instructor"}
    store = MailStore(tmp_path / "mbox")

    def offers_apop(apop: bool | None) -> bool:
        (service,) = pop3_services(
            store, "127.0.0.1", **settings, tls_cert=None, tls_key=None, apop=apop
        )
        return service.pop3.offers_apop

    assert offers_apop(None)
    assert not offers_apop(False)


@pytest.mark.parametrize(
    ("args", "env", "apop"),
    [
        ([], {}, None),
        (["--no-apop"], {}, False),
        (["--apop"], {}, True),
        ([], {"QUIZMAIL_POP3_APOP": "0"}, False),
        ([], {"QUIZMAIL_POP3_APOP": "true"}, True),
    ],
)
def test_apop_options_and_variable(args: list[str], env: dict[str, str], apop: bool | None) -> None:
    @click.command()
    @pop3_options
    def command(**settings: Any) -> None:
        click.echo(repr(settings["apop"]))

    result = CliRunner().invoke(command, args, env=env)
    assert result.output.strip() == repr(apop), result.output
