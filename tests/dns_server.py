"""DNS servers for tests: Debian's dnsmasq with the records a test names, and a scripted one.

``DnsServer`` runs dnsmasq on a free loopback port with ``--no-resolv`` (it asks nobody else),
no ``/etc/hosts``, and ``--local=/test/`` so that any name under ``.test`` it was not given is
NXDOMAIN. A test gives the records as dnsmasq options::

    with DnsServer(["--mx-host=a.test,mx1.a.test,10", "--host-record=mx1.a.test,127.0.0.2"]) as dns:
        resolver = make_resolver([dns.address])

``ScriptedDns`` answers what dnsmasq cannot be made to say: SERVFAIL, an MX host whose name is an
alias of itself (dnsmasq refuses to start with a CNAME loop), or nothing at all (a resolver that
never answers).
Needs Debian's ``dnsmasq`` (installed by .ci/system-deps); :func:`missing_reason` says why a
test must skip.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Literal

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

START_SECONDS = 10.0
START_ATTEMPTS = 3  # a free port can be taken by someone else before dnsmasq binds it


class PortTaken(RuntimeError):
    """dnsmasq found its port taken."""


def missing_reason() -> str | None:
    """Why dnsmasq cannot run here, or None."""
    if shutil.which("dnsmasq") is None and shutil.which("dnsmasq", path="/usr/sbin") is None:
        return "dnsmasq is not installed (Debian package dnsmasq-base, see .ci/system-deps)"
    return None


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A port free for UDP and for TCP on *host*: dnsmasq listens on both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as tcp:
            try:
                tcp.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no port free for both UDP and TCP on {host}")


class DnsServer:
    """dnsmasq on ``127.0.0.1:<free port>`` with *records* (dnsmasq options), for a ``with``."""

    def __init__(self, records: Sequence[str], *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_udp_port(host)
        self.records = list(records)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as ``QUIZMAIL_DNS_SERVERS`` and :func:`make_resolver` take it."""
        return f"{self.host}:{self.port}"

    def __enter__(self) -> DnsServer:
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start()
            except PortTaken:
                if attempt == START_ATTEMPTS - 1:
                    raise
                self.port = free_udp_port(self.host)  # taken since we looked: another one
        raise AssertionError("unreachable")

    def _start(self) -> DnsServer:
        binary = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin")
        command = [
            str(binary),
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
            "--pid-file=",
            f"--user={getpass.getuser()}",
            f"--listen-address={self.host}",
            "--bind-interfaces",
            f"--port={self.port}",
            "--local=/test/",
            "--log-facility=-",
            *self.records,
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_until_answering()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None

    def _stderr(self) -> str:
        """What the exited dnsmasq said (its pipe closed)."""
        assert self._process is not None
        assert self._process.stderr is not None
        with self._process.stderr:
            return self._process.stderr.read().decode(errors="replace")

    def _wait_until_answering(self) -> None:
        query = dns.message.make_query("ready.test.", "A").to_wire()
        deadline = time.monotonic() + START_SECONDS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.2)
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    text = self._stderr()
                    self._process = None
                    if "Address already in use" in text:
                        raise PortTaken(text)
                    raise RuntimeError(f"dnsmasq did not start: {text}")
                probe.sendto(query, (self.host, self.port))
                try:
                    probe.recv(512)
                    return
                except OSError:
                    time.sleep(0.05)
        raise RuntimeError(f"dnsmasq did not answer within {START_SECONDS} s")


Behaviour = Literal["servfail", "cname-loop", "silent"]


class ScriptedDns:
    """A UDP DNS server on a free loopback port that gives every question one *behaviour*."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self.questions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> ScriptedDns:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.questions += 1
            answer = self._answer(dns.message.from_wire(data))
            if answer is not None:
                self._sock.sendto(answer.to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        if self.behaviour == "silent":
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if self.behaviour == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        # The MX names a host whose address record is an alias of itself (RFC 2181 §10.3).
        question = query.question[0]
        if question.rdtype == dns.rdatatype.MX:
            record = dns.rrset.from_text(question.name, 60, "IN", "MX", "10 mx.loop.test.")
        else:
            record = dns.rrset.from_text(question.name, 60, "IN", "CNAME", str(question.name))
        response.answer.append(record)
        return response
