"""Fixtures for the SMTP client tests; the servers themselves are in smtp_servers.py."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable, Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller
from smtp_servers import Capture, Script, ScriptedServer, aiosmtpd_server


@pytest.fixture
def capture() -> Capture:
    return Capture()


@pytest.fixture
def aiosmtpd(capture: Capture) -> Iterator[Controller]:
    with aiosmtpd_server(capture) as controller:
        yield controller


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="session")
def smtp_sink_binary() -> str:
    path = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin:/usr/lib/postfix")
    if path is None:
        pytest.skip(
            "Postfix's smtp-sink is not installed (Debian package postfix: make system-deps)"
        )
    return path


@pytest.fixture
def scripted() -> Callable[[Script], ScriptedServer]:
    return ScriptedServer
