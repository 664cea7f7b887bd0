"""A running capture server on a free port (aiosmtpd's port=0 does not work), and SMTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_helpers import PASSWORD, USER, RawClient, StartServer

from app.capture import CaptureServer, RecipientPolicy
from app.capture.auth import Logins
from app.capture.tls import LocalCA, default_names
from app.pop3.users import Users, hash_password


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start capture servers (keyword arguments as CaptureServer's); all stop at teardown."""
    running: list[CaptureServer] = []

    def start(**options: object) -> CaptureServer:
        options.setdefault("mailbox", tmp_path / "mailbox")
        options.setdefault("hostname", "capture.test")
        options.setdefault("port", 0)  # a free port, known once started
        server = CaptureServer(**options)  # type: ignore[arg-type]
        server.start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> CaptureServer:
    return start_server(policy=RecipientPolicy())


@pytest.fixture
def raw_client(server: CaptureServer) -> Iterator[RawClient]:
    with RawClient(server.port) as client:
        assert client.reply()[0].startswith(b"220 ")
        client.send(b"EHLO client.test\r\n")
        client.reply()
        yield client


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """The demo's kind of CA, made once: its server certificate names loopback."""
    return LocalCA(tmp_path_factory.mktemp("tls")).ensure(default_names())


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logins as the POP3 server reads them: a hashed password (cheap to check) and a plain one."""
    path = tmp_path_factory.mktemp("users") / "users"
    hashed = hash_password(PASSWORD, "scrypt", work=16)
    path.write_text(f"# lab logins\n{USER} {hashed}\nbob@example.org plain-secret\n")
    return path


@pytest.fixture
def logins(users_file: Path) -> Logins:
    return Logins(Users.from_file(users_file), delay=0.01)


@pytest.fixture
def secure(start_server: StartServer, local_ca: LocalCA, logins: Logins) -> CaptureServer:
    """STARTTLS on the main port, a submission port (AUTH required) and an implicit-TLS port."""
    return start_server(
        tls=local_ca.server_context(),
        logins=logins,
        submission_port=0,
        tls_port=0,
        handshake_timeout=1.0,
    )
