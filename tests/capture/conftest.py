"""A running capture server on a free port (aiosmtpd's port=0 does not work), and SMTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_helpers import RawClient, StartServer, free_port

from app.capture import CaptureServer, RecipientPolicy


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start capture servers (keyword arguments as CaptureServer's); all stop at teardown."""
    running: list[CaptureServer] = []

    def start(**options: object) -> CaptureServer:
        options.setdefault("mailbox", tmp_path / "mailbox")
        server = CaptureServer(port=free_port(), hostname="capture.test", **options)  # type: ignore[arg-type]
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
