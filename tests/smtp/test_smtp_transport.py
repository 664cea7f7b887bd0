"""The non-blocking socket helpers: every byte written, waits only when needed, bounded waits."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from app.smtp.transport import receive_into, send_all

BIG = bytes(range(256)) * 16_384  # 4 MiB: more than any socket buffer takes at once


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(0.0)
    with ours, theirs:
        yield ours, theirs


def read_all(sock: socket.socket, size: int, into: list[bytes]) -> None:
    got = 0
    while got < size:
        chunk = sock.recv(65536)
        if not chunk:
            return
        into.append(chunk)
        got += len(chunk)


def test_send_all_waits_for_room_and_writes_every_byte(pair: tuple[socket.socket, ...]) -> None:
    ours, theirs = pair
    chunks: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(theirs, len(BIG), chunks))
    reader.start()
    send_all(ours, BIG, timeout=10.0)
    reader.join(timeout=10.0)
    assert b"".join(chunks) == BIG


def test_send_all_times_out_when_the_peer_never_reads(pair: tuple[socket.socket, ...]) -> None:
    ours, _ = pair
    with pytest.raises(TimeoutError):
        send_all(ours, BIG, timeout=0.05)


def test_receive_into_returns_what_is_already_there(pair: tuple[socket.socket, ...]) -> None:
    ours, theirs = pair
    theirs.sendall(b"250 OK\r\n")
    buffer = memoryview(bytearray(64))
    size = receive_into(ours, buffer, timeout=10.0)
    assert bytes(buffer[:size]) == b"250 OK\r\n"


def test_receive_into_waits_for_bytes_to_come(pair: tuple[socket.socket, ...]) -> None:
    ours, theirs = pair
    later = threading.Timer(0.05, theirs.sendall, args=(b"354 go ahead\r\n",))
    later.start()
    buffer = memoryview(bytearray(64))
    size = receive_into(ours, buffer, timeout=10.0)
    later.join()
    assert bytes(buffer[:size]) == b"354 go ahead\r\n"


def test_receive_into_times_out_when_nothing_comes(pair: tuple[socket.socket, ...]) -> None:
    ours, _ = pair
    with pytest.raises(TimeoutError):
        receive_into(ours, memoryview(bytearray(64)), timeout=0.05)


def test_receive_into_reads_the_end_of_the_stream(pair: tuple[socket.socket, ...]) -> None:
    ours, theirs = pair
    theirs.shutdown(socket.SHUT_WR)
    assert receive_into(ours, memoryview(bytearray(64)), timeout=10.0) == 0


def test_both_work_over_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    """TLS reads and writes that would block (WANT_READ / WANT_WRITE) wait, then go on."""
    plain_ours, plain_theirs = socket.socketpair()
    received: list[bytes] = []

    def echo_back() -> None:
        with server_tls.wrap_socket(plain_theirs, server_side=True) as tls:
            read_all(tls, len(BIG), received)
            tls.sendall(b"250 OK\r\n")

    server = threading.Thread(target=echo_back)
    server.start()
    with client_tls.wrap_socket(plain_ours, server_hostname="localhost") as ours:
        ours.settimeout(0.0)
        send_all(ours, BIG, timeout=10.0)
        buffer = memoryview(bytearray(64))
        size = receive_into(ours, buffer, timeout=10.0)
    server.join(timeout=10.0)
    assert bytes(buffer[:size]) == b"250 OK\r\n"
    assert b"".join(received) == BIG
