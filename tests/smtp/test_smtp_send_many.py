"""send_many against scripted servers: one round trip per message with PIPELINING, and each
message's outcome the same as sending it alone (RFC 2920 §3.1)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smtp_servers import SHORT, Peer, Script, ScriptedServer

from app.mail import build_message
from app.smtp import (
    SendResult,
    SMTPClient,
    SMTPError,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPReplyError,
)
from app.smtp.errors import SMTPNotAttempted

Scripted = Callable[[Script], ScriptedServer]
MESSAGE = b"Subject: hi\r\n\r\nHello\r\n"


@dataclass(frozen=True)
class Plan:
    """How the server answers one message: MAIL, each RCPT, DATA (if any RCPT passed), the dot."""

    mail: int = 250
    rcpts: tuple[int, ...] = (250,)
    data: int = 354
    content: int = 250


def planned_server(plans: Sequence[Plan], *extensions: str, stop_after: int = -1) -> Script:
    """A server answering each command as it reads it, as pipelining servers do (RFC 2920 §3.2).

    After *stop_after* messages' dots (if given) it says 421 and hangs up.
    """

    def script(peer: Peer) -> None:
        peer.send(b"220 fake.example ESMTP\r\n")
        peer.ehlo(*extensions)
        queue, plan, accepted, mail_ok, dots = iter(plans), Plan(), 0, False, 0
        codes = iter(plan.rcpts)
        while line := peer.read_line():
            verb = line[:4].upper()
            if verb == b"MAIL":
                plan, accepted = next(queue), 0
                mail_ok = plan.mail == 250
                codes = iter(plan.rcpts)
                reply(peer, plan.mail)
            elif verb == b"RCPT":
                code = next(codes) if mail_ok else 503
                accepted += code == 250
                reply(peer, code)
            elif verb == b"DATA":
                if not (mail_ok and accepted):
                    reply(peer, 554 if mail_ok else 503)
                    continue
                reply(peer, plan.data)
                if plan.data != 354:
                    continue
                peer.read_until(b"\r\n.\r\n")
                dots += 1
                if dots == stop_after:
                    reply(peer, 421)
                    return
                reply(peer, plan.content)
            elif verb == b"QUIT":
                reply(peer, 221)
                return
            else:  # RSET
                reply(peer, 250)

    return script


def reply(peer: Peer, code: int) -> None:
    peer.send(f"{code} {TEXTS.get(code, 'whatever')}\r\n".encode())


TEXTS = {250: "Ok", 354: "go on", 221: "bye", 421: "shutting down", 554: "no valid recipients"}


def recipients_for(plan: Plan) -> list[str]:
    return [f"r{n}@example.org" for n in range(len(plan.rcpts))]


def items_for(plans: Sequence[Plan]) -> list[tuple[bytes, str, list[str]]]:
    return [(MESSAGE, "a@example.org", recipients_for(plan)) for plan in plans]


def client(server: ScriptedServer, **kwargs: object) -> SMTPClient:
    return SMTPClient("127.0.0.1", server.port, timeout=SHORT, **kwargs)  # type: ignore[arg-type]


def summary(outcome: SendResult | SMTPError) -> object:
    if isinstance(outcome, SendResult):
        return ("sent", outcome.accepted, outcome.refused, outcome.reply)
    return (type(outcome).__name__, str(outcome))


def batch(plans: Sequence[Plan], *extensions: str) -> list[SendResult | SMTPError]:
    with ScriptedServer(planned_server(plans, *extensions)) as server, client(server) as smtp:
        return smtp.send_many(items_for(plans))


def one_by_one(plans: Sequence[Plan]) -> list[SendResult | SMTPError]:
    outcomes: list[SendResult | SMTPError] = []
    with ScriptedServer(planned_server(plans)) as server, client(server) as smtp:
        for item in items_for(plans):
            try:
                outcomes.append(smtp.send(*item))
            except SMTPError as exc:
                outcomes.append(exc)
    return outcomes


codes = st.sampled_from
plans = st.builds(
    Plan,
    mail=codes([250, 451, 550]),
    rcpts=st.lists(codes([250, 450, 550]), min_size=1, max_size=3).map(tuple),
    data=codes([354, 451]),
    content=codes([250, 452, 554]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plans, min_size=1, max_size=6))
def test_a_pipelined_batch_ends_as_sending_one_by_one_would(plans: list[Plan]) -> None:
    expected = [summary(outcome) for outcome in one_by_one(plans)]
    assert [summary(outcome) for outcome in batch(plans, "PIPELINING")] == expected
    assert [summary(outcome) for outcome in batch(plans)] == expected


def wire(server: ScriptedServer) -> list[bytes]:
    assert server.peer is not None
    return server.peer.received


def test_a_refused_message_does_not_stop_the_next_one_already_pipelined() -> None:
    plans = [Plan(content=554), Plan()]
    with (
        ScriptedServer(planned_server(plans, "PIPELINING")) as server,
        client(server) as smtp,
    ):
        first, second = smtp.send_many(items_for(plans))
    assert isinstance(first, SMTPReplyError)
    assert first.code == 554
    assert isinstance(second, SendResult)
    assert second.reply.code == 250


def test_every_recipient_refused_sends_no_data_then_rset_and_the_batch_goes_on() -> None:
    plans = [Plan(), Plan(rcpts=(550, 550)), Plan()]
    with (
        ScriptedServer(planned_server(plans, "PIPELINING")) as server,
        client(server) as smtp,
    ):
        outcomes = smtp.send_many(items_for(plans))
    assert [type(outcome) for outcome in outcomes] == [
        SendResult,
        SMTPRecipientsRefused,
        SendResult,
    ]
    verbs = [line.split(b" ")[0].split(b":")[0] for line in wire(server)]
    # The first message's dot led the second's group; after its 554 to DATA, RSET, not data.
    assert verbs.count(b"RSET") == 1
    assert b"RSET" in verbs[verbs.index(b"DATA", verbs.index(b"DATA") + 1) :]


def test_a_refused_mail_is_that_messages_outcome_only() -> None:
    plans = [Plan(mail=550), Plan()]
    first, second = batch(plans, "PIPELINING")
    assert isinstance(first, SMTPReplyError)
    assert first.command.startswith("MAIL FROM")
    assert isinstance(second, SendResult)


def test_a_421_mid_batch_stops_it_and_the_rest_were_not_attempted() -> None:
    plans = [Plan(), Plan(), Plan(), Plan()]
    script = planned_server(plans, "PIPELINING", stop_after=2)
    with ScriptedServer(script) as server, client(server) as smtp:
        outcomes = smtp.send_many(items_for(plans))
    assert isinstance(outcomes[0], SendResult)
    assert isinstance(outcomes[1], SMTPReplyError)
    assert outcomes[1].code == 421
    for outcome in outcomes[2:]:
        assert isinstance(outcome, SMTPNotAttempted)
        assert "not sent" in str(outcome)


def test_the_wait_after_each_final_dot_is_the_final_timeout() -> None:
    def script(peer: Peer) -> None:
        peer.send(b"220 fake.example ESMTP\r\n")
        peer.ehlo("PIPELINING")
        for code in (250, 250, 354):
            peer.answer(f"{code} Ok\r\n".encode())
        peer.read_until(b"\r\n.\r\n")
        peer.read_until(b"QUIT")  # the next MAIL came with the dot; silent until the client leaves

    with ScriptedServer(script) as server, client(server, final_timeout=0.2) as smtp:
        first, second = smtp.send_many(items_for([Plan(), Plan()]))
    assert isinstance(first, TimeoutError)  # SMTPTimeout is one
    assert "message data" in str(first)
    assert isinstance(second, SMTPNotAttempted)


def test_the_transcript_is_the_wire_and_each_message_has_its_own_lines() -> None:
    plans = [Plan(), Plan()]
    with (
        ScriptedServer(planned_server(plans, "PIPELINING")) as server,
        client(server) as smtp,
    ):
        start = len(smtp.transcript)
        first, second = smtp.send_many(items_for(plans))
        lines = smtp.transcript[start:]
    assert lines == [
        "C: MAIL FROM:<a@example.org>",
        "C: RCPT TO:<r0@example.org>",
        "C: DATA",
        "S: 250 Ok",
        "S: 250 Ok",
        "S: 354 go on",
        "C: <22 bytes of message data>",
        "C: MAIL FROM:<a@example.org>",
        "C: RCPT TO:<r0@example.org>",
        "C: DATA",
        "S: 250 Ok",
        "S: 250 Ok",
        "S: 250 Ok",
        "S: 354 go on",
        "C: <22 bytes of message data>",
        "S: 250 Ok",
    ]
    assert isinstance(first, SendResult)
    assert isinstance(second, SendResult)
    assert first.transcript == [*lines[:7], lines[10]]
    assert second.transcript == [*lines[7:10], *lines[11:]]


def test_size_and_8bitmime_are_decided_per_message() -> None:
    plans = [Plan(), Plan()]
    items = [("Subject: hi\r\n\r\nçà\r\n".encode(), "a@example.org", ["r0@example.org"])]
    with (
        ScriptedServer(planned_server(plans, "PIPELINING", "SIZE 1000")) as server,
        client(server) as smtp,
    ):
        outcomes = smtp.send_many([*items, *items_for(plans)])
    assert isinstance(outcomes[0], SMTPNotSupported)
    assert "8BITMIME" in str(outcomes[0])
    assert all(isinstance(outcome, SendResult) for outcome in outcomes[1:])
    mails = [line for line in wire(server) if line.startswith(b"MAIL")]
    assert mails == [b"MAIL FROM:<a@example.org> SIZE=22"] * 2


def test_utf8_in_the_header_needs_smtputf8_per_message() -> None:
    # RFC 6531 §3.4, RFC 6532 §3: UTF-8 header fields only with SMTPUTF8; a body only 8BITMIME.
    utf8_header = build_message(
        sender="a@example.org", to="jörg@bücher.example", subject="hi", text="Hello"
    )
    items = [
        (utf8_header, "a@example.org", ["r0@example.org"]),
        ("Subject: hi\r\n\r\nçà\r\n".encode(), "a@example.org", ["r0@example.org"]),
    ]
    with (
        ScriptedServer(planned_server([Plan()], "PIPELINING", "8BITMIME")) as server,
        client(server) as smtp,
    ):
        refused, sent = smtp.send_many(items)
    assert isinstance(refused, SMTPNotSupported)
    assert "header is not ASCII" in str(refused)
    assert isinstance(sent, SendResult)
    assert [line for line in wire(server) if line.startswith(b"MAIL")] == [
        b"MAIL FROM:<a@example.org> BODY=8BITMIME"
    ]
    offered = ("PIPELINING", "8BITMIME", "SMTPUTF8")
    with (
        ScriptedServer(planned_server([Plan(), Plan()], *offered)) as server,
        client(server) as smtp,
    ):
        outcomes = smtp.send_many(items)
    assert all(isinstance(outcome, SendResult) for outcome in outcomes)
    assert [line for line in wire(server) if line.startswith(b"MAIL")] == [
        b"MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8",
        b"MAIL FROM:<a@example.org> BODY=8BITMIME",
    ]


@pytest.mark.parametrize("size", ["SIZE ²", "SIZE 0"])
def test_a_size_without_a_limit_sends_as_if_unlimited(size: str) -> None:
    # RFC 1870 §4: "SIZE ²" is malformed and "SIZE 0" declares no fixed maximum: neither limits.
    plans = [Plan(), Plan(), Plan()]
    with (
        ScriptedServer(planned_server(plans, "PIPELINING", size)) as server,
        client(server) as smtp,
    ):
        smtp.send(*items_for(plans)[0])
        outcomes = smtp.send_many(items_for(plans[1:]))
    assert all(isinstance(outcome, SendResult) for outcome in outcomes)
    assert [line for line in wire(server) if line.startswith(b"MAIL")] == [
        b"MAIL FROM:<a@example.org> SIZE=22"
    ] * 3


def test_send_raises_what_send_many_returns() -> None:
    plan = Plan(rcpts=(550,))
    with (
        ScriptedServer(planned_server([plan])) as server,
        client(server) as smtp,
        pytest.raises(SMTPRecipientsRefused),
    ):
        smtp.send(*items_for([plan])[0])
