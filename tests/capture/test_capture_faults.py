"""Scripted faults (``--faults``): each rule against our SMTP client and smtplib, the outbox's
deliverer coming back after greylisting, and every mistake a faults file can hold."""

from __future__ import annotations

import logging
import smtplib
from pathlib import Path

import pytest
from capture_helpers import RawClient, StartServer, logged

from app.capture import CaptureServer
from app.capture.faults import Faults, FaultsFileError, parse_faults
from app.mail import build_message
from app.notify import Deliverer, Relay
from app.outbox import Backoff, Outbox
from app.smtp import SMTPClient, SMTPRecipientsRefused, SMTPReplyError, SMTPTransportError
from app.store import MailStore

SENDER, RCPT = "quizmail@localhost", "ada@greylist.test"
MESSAGE = build_message(sender=SENDER, to=RCPT, subject="Your results", text="8 of 10")

GREYLIST = b"""
seed: 1
rules:
  - name: greylist
    stage: rcpt
    recipient: "*@greylist.test"
    attempts: 1
    reply: 451 4.7.1 Greylisted, try again later
"""


def faulty(start_server: StartServer, rules: bytes) -> CaptureServer:
    return start_server(faults=parse_faults(rules, "faults.yaml"))


def count(server: CaptureServer, recipient: str = RCPT) -> int:
    with MailStore(server.mailbox) as store:
        return store.count(to=recipient)


def our_send(server: CaptureServer, recipient: str = RCPT) -> str:
    with SMTPClient("127.0.0.1", server.port, timeout=10) as client:
        return str(client.send(MESSAGE, SENDER, [recipient]).reply)


def test_greylisting_refuses_the_first_try_and_accepts_the_next(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = faulty(start_server, GREYLIST)
    with caplog.at_level(logging.WARNING), pytest.raises(SMTPRecipientsRefused, match="451"):
        our_send(server)
    assert our_send(server).startswith("250")
    assert our_send(server, "bob@school.test").startswith("250")  # other domains: untouched
    assert count(server) == 1
    assert server.faults is not None
    assert server.faults.applied == [("greylist", "rcpt", "127.0.0.1")]
    assert logged(caplog, "fault 'greylist' at rcpt for 127.0.0.1 (attempt 1)")


def test_the_outbox_deliverer_retries_after_greylisting_and_delivers_exactly_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = faulty(start_server, GREYLIST)
    outbox = Outbox(tmp_path / "outbox", backoff=Backoff(first=0.0))
    outbox.enqueue(MESSAGE, SENDER, [RCPT])
    deliverer = Deliverer(outbox, Relay("127.0.0.1", server.port, timeout=10), poll_seconds=0.01)
    [first] = deliverer.run_once()
    assert (first.state, first.last_error) == ("queued", "451 4.7.1 Greylisted, try again later")
    [second] = deliverer.run_once()
    assert (second.state, second.attempts) == ("sent", 2)
    assert deliverer.run_once() == []
    assert count(server) == 1


def test_421_at_mail_closes_the_connection(start_server: StartServer) -> None:
    server = faulty(
        start_server, b"rules: [{stage: mail, reply: '421 4.3.2 Shutting down', sender: '*'}]"
    )
    with RawClient(server.port) as client:
        client.reply()
        client.command(b"EHLO client.test")
        assert client.command(b"MAIL FROM:<a@example.org>") == [b"421 4.3.2 Shutting down"]
        assert client.rest() == b""


def test_452_too_many_recipients_after_the_first(start_server: StartServer) -> None:
    rules = b"rules: [{stage: rcpt, recipient: 'c*@school.test', reply: 452 4.5.3 Too many}]"
    server = faulty(start_server, rules)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        refused = smtp.sendmail(SENDER, ["a@school.test", "c@school.test"], MESSAGE)
    assert refused == {"c@school.test": (452, b"4.5.3 Too many")}
    assert count(server, "a@school.test") == 1


def test_552_at_the_end_of_data_refuses_the_message_and_stores_nothing(
    start_server: StartServer,
) -> None:
    server = faulty(start_server, b"rules: [{stage: end-of-data, reply: 552 5.3.4 Too big}]")
    with pytest.raises(SMTPReplyError, match="552"):
        our_send(server)
    assert count(server) == 0


def test_554_at_connect_waits_for_quit_and_refuses_the_rest(start_server: StartServer) -> None:
    server = faulty(start_server, b"rules: [{stage: connect, reply: 554 5.3.2 No service}]")
    with RawClient(server.port) as client:
        assert client.reply() == [b"554 5.3.2 No service"]
        assert client.command(b"EHLO client.test")[0].startswith(b"503 5.5.1")
        assert client.command(b"QUIT") == [b"221 2.0.0 Bye"]
        assert client.rest() == b""


def test_drop_at_data_ends_the_connection_without_a_reply(start_server: StartServer) -> None:
    server = faulty(start_server, b"rules: [{stage: data, drop: true}]")
    with pytest.raises(SMTPTransportError):
        our_send(server)
    assert count(server) == 0


def test_drop_after_the_message_loses_it_and_the_server_goes_on(start_server: StartServer) -> None:
    server = faulty(start_server, b"rules: [{stage: end-of-data, drop: true, attempts: 1}]")
    with pytest.raises(SMTPTransportError):
        our_send(server)
    assert our_send(server).startswith("250")
    assert count(server) == 1


def test_a_delay_only_slows_the_command(start_server: StartServer) -> None:
    server = faulty(start_server, b"rules: [{stage: ehlo, delay: 0.2}]")
    assert our_send(server).startswith("250")
    assert server.faults is not None
    assert server.faults.applied == [("rule 1", "ehlo", "127.0.0.1")]


def test_peer_and_sender_matches(start_server: StartServer) -> None:
    rules = b"""
rules:
  - {stage: mail, peer: 192.0.2.0/24, reply: 550 5.7.1 Not from there}
  - {stage: mail, sender: "<>", reply: 550 5.7.1 No bounces}
"""
    server = faulty(start_server, rules)
    assert our_send(server).startswith("250")  # from 127.0.0.1, with a sender
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert smtp.mail("<>")[0] == 550


def test_probability_with_a_seed_is_repeatable() -> None:
    rules = b"seed: 42\nrules: [{stage: connect, probability: 0.5, drop: true}]"
    runs = []
    for _ in range(2):
        faults = parse_faults(rules)
        runs.append([faults.match("connect", "127.0.0.1") is not None for _ in range(40)])
    assert runs[0] == runs[1]
    assert 0 < sum(runs[0]) < 40


def test_attempt_ranges_count_per_peer_sender_and_recipient() -> None:
    faults = parse_faults(b"rules: [{stage: rcpt, attempts: 2-3, reply: 451 4.7.1 Later}]")
    fired = [faults.match("rcpt", "127.0.0.1", "a@x.test", ["b@y.test"]) for _ in range(4)]
    assert [f is not None for f in fired] == [False, True, True, False]
    assert faults.match("rcpt", "127.0.0.1", "a@x.test", ["c@y.test"]) is None  # its attempt 1


def test_a_random_delay_is_drawn_within_its_range() -> None:
    faults = parse_faults(b"seed: 3\nrules: [{stage: ehlo, delay: [1, 2]}]")
    fault = faults.match("ehlo", "127.0.0.1")
    assert fault is not None
    assert 1 <= fault.delay <= 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"rules: [{stage: helo, drop: true}]", "faults.yaml:1: stage 'helo' is not one of"),
        (b"rules:\n  - {stage: rcpt}\n", "faults.yaml:2: rule 1 does nothing"),
        (b"rules:\n  - stage: mail\n    reply: 250 OK\n", "faults.yaml:3: reply '250 OK' should"),
        (b"rules: [{stage: connect, sender: a@b, drop: true}]", "the connect stage knows no"),
        (b"rules: [{stage: mail, drop: true, reply: 554 x}]", "give reply or drop, not both"),
        (b"rules: [{stage: mail, drop: yes please}]", "drop should be true or false"),
        (b"rules: [{stage: mail, delay: -1}]", "delay (seconds, or [LOW, HIGH]) should be"),
        (b"rules: [{stage: mail, attempts: 0, drop: true}]", "attempts '0' should be N"),
        (b"rules: [{stage: mail, peer: nowhere, drop: true}]", "peer 'nowhere' is not"),
        (b"rules: [{stage: mail, probability: 2, drop: true}]", "probability should be"),
        (b"rules: [{stage: mail, drop: true, colour: red}]", "unknown key 'colour' in rule 1"),
        (b"rules: {stage: mail}", "rules should be a list"),
        (b"- just a list", "the faults file should be a mapping"),
        (b"rules: [unclosed", "faults.yaml:1: malformed YAML"),
        (b"[" * 5000, "malformed YAML"),
    ],
)
def test_a_bad_faults_file_is_one_line_naming_file_and_line(text: bytes, problem: str) -> None:
    with pytest.raises(FaultsFileError) as caught:
        parse_faults(text, "faults.yaml")
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message


def test_an_empty_file_has_no_faults(tmp_path: Path) -> None:
    (tmp_path / "faults.yaml").write_bytes(b"")
    assert Faults.from_file(tmp_path / "faults.yaml").rules == ()
    with pytest.raises(FaultsFileError, match="No such file"):
        Faults.from_file(tmp_path / "missing.yaml")
