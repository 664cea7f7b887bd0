"""The sans-IO core: every state, what may be sent in it, and what each reply does (bytes only)."""

from __future__ import annotations

import pytest

from app.smtp import ClientConnection, LocalProtocolError, RemoteProtocolError, State
from app.smtp.connection import Greeting, Outcome, classify
from app.smtp.data import header_section
from app.smtp.errors import SMTPNotSupported
from app.smtp.events import (
    Auth,
    AuthResponse,
    Content,
    Data,
    Ehlo,
    Event,
    Helo,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
)
from app.smtp.extensions import Extensions, mail_parameters
from app.smtp.replies import Reply

EHLO_REPLY = b"250-server.example\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
PIPELINING_EHLO = b"250-server.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"


def replies(conn: ClientConnection, data: bytes) -> list[tuple[Event | object, Reply]]:
    conn.receive_data(data)
    out = []
    while (got := conn.next_reply()) is not None:
        out.append(got)
    return out


def ready(ehlo: bytes = EHLO_REPLY) -> ClientConnection:
    conn = ClientConnection()
    replies(conn, b"220 server.example ESMTP\r\n")
    conn.send(Ehlo("client.example"))
    replies(conn, ehlo)
    return conn


def in_transaction() -> ClientConnection:
    conn = ready()
    conn.send(MailFrom("a@example.org"))
    replies(conn, b"250 OK\r\n")
    return conn


def reach(state: State) -> ClientConnection:
    """A connection in *state*, with every reply it has waited for read."""
    steps: dict[State, tuple[State | None, list[Event | bytes]]] = {
        State.GREETING: (None, []),
        State.HELLO: (None, [b"220 hi\r\n"]),
        State.REFUSED: (None, [b"554 go away\r\n"]),
        State.HELLO_SENT: (State.HELLO, [Ehlo("c.example")]),
        State.READY: (State.HELLO_SENT, [EHLO_REPLY]),
        State.STARTTLS_SENT: (State.READY, [StartTLS()]),
        State.TLS_HANDSHAKE: (State.STARTTLS_SENT, [b"220 go ahead\r\n"]),
        State.AUTH_SENT: (State.READY, [Auth("LOGIN")]),
        State.AUTH_CHALLENGE: (State.AUTH_SENT, [b"334 VXNlcm5hbWU6\r\n"]),
        State.MAIL_SENT: (State.READY, [MailFrom("a@example.org"), b"250 OK\r\n"]),
        State.RCPT_SENT: (State.MAIL_SENT, [RcptTo("b@example.org"), b"250 OK\r\n"]),
        State.DATA_SENT: (State.RCPT_SENT, [Data()]),
        State.DATA_OPEN: (State.DATA_SENT, [b"354 go on\r\n"]),
        State.CONTENT_SENT: (State.DATA_OPEN, [Content(b"hello")]),
        State.FAILED: (State.READY, [MailFrom("a@example.org"), b"451 try later\r\n"]),
        State.RSET_SENT: (State.FAILED, [Rset()]),
        State.QUIT_SENT: (State.READY, [Quit()]),
        State.CLOSED: (State.QUIT_SENT, [b"221 bye\r\n"]),
    }
    before, actions = steps[state]
    conn = reach(before) if before is not None else ClientConnection()
    for action in actions:
        if isinstance(action, bytes):
            replies(conn, action)
        else:
            conn.send(action)
    assert conn.state is state
    return conn


# What the client may send in each state; in every other state it must wait or stop.
LEGAL: dict[State, set[type[Event]]] = {
    State.HELLO: {Ehlo, Helo, Quit},
    State.REFUSED: {Quit},
    State.READY: {Ehlo, StartTLS, Auth, MailFrom, Rset, Noop, Quit},
    State.AUTH_CHALLENGE: {AuthResponse, Quit},
    State.MAIL_SENT: {RcptTo, Rset, Quit},
    State.RCPT_SENT: {RcptTo, Data, Rset, Quit},
    State.DATA_OPEN: {Content},
    State.FAILED: {Rset, Quit},
}
SAMPLES: list[Event] = [
    Ehlo("c.example"),
    Helo("c.example"),
    StartTLS(),
    Auth("PLAIN", "AGEAYg=="),
    AuthResponse("YQ=="),
    MailFrom("a@example.org"),
    RcptTo("b@example.org"),
    Data(),
    Content(b"hi"),
    Rset(),
    Noop(),
    Quit(),
]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_what_may_be_sent_in_each_state(state: State, event: Event) -> None:
    conn = reach(state)
    if type(event) in LEGAL.get(state, set()):
        assert conn.send(event)
    else:
        with pytest.raises(LocalProtocolError, match="cannot send"):
            conn.send(event)
        assert conn.state is state  # a refused event changes nothing


def test_every_state_is_reachable_and_named_for_people() -> None:
    assert all(reach(state).state.value for state in State)


# --- the greeting and EHLO ------------------------------------------------------------------------


def test_a_220_greeting_lets_the_client_say_ehlo() -> None:
    conn = ClientConnection()
    [(_, reply)] = replies(conn, b"220-server.example ESMTP\r\n220 welcome\r\n")
    assert (reply.code, conn.state) == (220, State.HELLO)


def test_a_554_greeting_means_go_away_and_only_quit_is_left() -> None:
    conn = reach(State.REFUSED)
    assert conn.send(Quit()) == b"QUIT\r\n"


@pytest.mark.parametrize("greeting", [b"250 hello\r\n", b"354 what\r\n"])
def test_a_greeting_other_than_220_or_a_failure_is_a_violation(greeting: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="the connection"):
        replies(ClientConnection(), greeting)


def test_ehlo_reply_lists_the_extensions() -> None:
    conn = ready()
    assert conn.state is State.READY
    assert conn.extensions.size_limit == 1000
    assert "8bitmime" in conn.extensions
    assert not conn.extensions.pipelining


@pytest.mark.parametrize("code", [b"500", b"502"])
def test_ehlo_not_recognised_falls_back_to_helo(code: bytes) -> None:
    conn = reach(State.HELLO_SENT)
    replies(conn, code + b" command not recognised\r\n")
    assert conn.state is State.HELLO
    assert conn.send(Helo("c.example")) == b"HELO c.example\r\n"
    replies(conn, b"250 server.example\r\n")
    assert conn.state is State.READY
    assert conn.extensions == Extensions()  # HELO offers no extensions


def test_enhanced_codes_are_read_only_after_ehlo_offers_them() -> None:
    plain = ready()
    plain.send(MailFrom("a@example.org"))
    [(_, reply)] = replies(plain, b"250 2.1.0 Ok\r\n")
    assert reply.enhanced is None
    enhanced = ready(PIPELINING_EHLO)
    enhanced.send(MailFrom("a@example.org"))
    [(_, reply)] = replies(enhanced, b"250 2.1.0 Ok\r\n")
    assert (reply.enhanced, reply.text) == ("2.1.0", "Ok")


# --- one command at a time, or pipelined ---------------------------------------------------------


def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    conn = ready()
    conn.send(MailFrom("a@example.org"))
    with pytest.raises(LocalProtocolError, match="before the reply to MAIL FROM"):
        conn.send(RcptTo("b@example.org"))


def test_with_pipelining_mail_rcpt_and_data_go_together_and_replies_pair_in_order() -> None:
    conn = ready(PIPELINING_EHLO)
    sent = [MailFrom("a@example.org"), RcptTo("b@example.org"), RcptTo("c@example.org"), Data()]
    wire = b"".join(conn.send(event) for event in sent)
    assert wire.count(b"\r\n") == 4
    got = replies(
        conn, b"250 2.1.0 Ok\r\n550 5.1.1 No such user here\r\n250 2.1.5 Ok\r\n354 Go\r\n"
    )
    assert [(type(c), r.code) for c, r in got] == [
        (MailFrom, 250),
        (RcptTo, 550),
        (RcptTo, 250),
        (Data, 354),
    ]
    assert conn.state is State.DATA_OPEN


def test_pipelining_stops_at_data() -> None:
    # RFC 2920 §3.1: DATA may only end a group.
    conn = ready(PIPELINING_EHLO)
    for event in (MailFrom("a@example.org"), RcptTo("b@example.org"), Data()):
        conn.send(event)
    for late in (RcptTo("c@example.org"), Content(b"x")):
        with pytest.raises(LocalProtocolError, match="waiting for the reply to DATA"):
            conn.send(late)


def test_a_pipelined_group_whose_mail_failed_ends_failed_and_wants_rset() -> None:
    conn = ready(PIPELINING_EHLO)
    for event in (MailFrom("a@example.org"), RcptTo("b@example.org"), Data()):
        conn.send(event)
    replies(conn, b"451 4.3.0 later\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no valid recipients\r\n")
    assert conn.state is State.FAILED
    with pytest.raises(LocalProtocolError, match="cannot send MailFrom"):
        conn.send(MailFrom("a@example.org"))
    conn.send(Rset())
    replies(conn, b"250 2.0.0 Ok\r\n")
    assert conn.state is State.READY


def test_a_354_after_a_failed_mail_opens_data_for_an_empty_message() -> None:
    conn = ready(PIPELINING_EHLO)
    for event in (MailFrom("a@example.org"), RcptTo("b@example.org"), Data()):
        conn.send(event)
    replies(conn, b"550 no\r\n503 no\r\n354 go on anyway\r\n")
    assert conn.state is State.DATA_OPEN
    assert conn.send(Content(b"")) == b".\r\n"


def test_refused_recipients_do_not_stop_the_transaction() -> None:
    conn = in_transaction()
    conn.send(RcptTo("nobody@example.org"))
    replies(conn, b"550 No such user here\r\n")
    conn.send(RcptTo("b@example.org"))
    replies(conn, b"250 OK\r\n")
    assert conn.send(Data()) == b"DATA\r\n"


# What a reply to each waiting state leads to (the outcomes a state table has beyond "go on").
REPLY_OUTCOMES = [
    pytest.param(
        State.CONTENT_SENT,
        b"250 queued\r\n",
        State.READY,
        id="the message reply ends the transaction",
    ),
    pytest.param(
        State.CONTENT_SENT,
        b"554 rejected\r\n",
        State.FAILED,
        id="a refused message wants rset before the next mail",
    ),
    pytest.param(
        State.AUTH_SENT,
        b"535 5.7.8 bad credentials\r\n",
        State.READY,
        id="failed auth leaves the connection ready",
    ),
    pytest.param(
        State.STARTTLS_SENT,
        b"454 4.7.0 TLS not available\r\n",
        State.READY,
        id="starttls refused stays in plaintext ready state",
    ),
]


@pytest.mark.parametrize(("state", "reply", "after"), REPLY_OUTCOMES)
def test_a_reply_moves_the_dialogue_on(state: State, reply: bytes, after: State) -> None:
    conn = reach(state)
    replies(conn, reply)
    assert conn.state is after


@pytest.mark.parametrize("state", [State.HELLO_SENT, State.DATA_SENT, State.CONTENT_SENT])
def test_421_closes_the_dialogue_from_any_wait(state: State) -> None:
    conn = reach(state)
    replies(conn, b"421 4.3.2 shutting down\r\n")
    assert conn.state is State.CLOSED


@pytest.mark.parametrize(
    ("state", "reply"),
    [
        (State.MAIL_SENT, b"354 go\r\n"),  # an intermediate reply to RCPT
        (State.DATA_SENT, b"250 OK\r\n"),  # DATA must get 354 or a failure
        (State.STARTTLS_SENT, b"250 OK\r\n"),  # STARTTLS must get 220
        (State.HELLO_SENT, b"354 go\r\n"),
    ],
)
def test_a_reply_the_command_cannot_have_is_a_violation(state: State, reply: bytes) -> None:
    conn = reach(state)
    if state is State.MAIL_SENT:
        conn.send(RcptTo("b@example.org"))
    with pytest.raises(RemoteProtocolError, match="answered"):
        replies(conn, reply)


def test_a_reply_to_no_command_is_a_violation() -> None:
    conn = ready()
    with pytest.raises(RemoteProtocolError, match="no command"):
        replies(conn, b"250 unasked\r\n")


# --- AUTH and STARTTLS ----------------------------------------------------------------------------


def test_auth_challenges_are_answered_until_235() -> None:
    conn = reach(State.AUTH_CHALLENGE)
    conn.send(AuthResponse("dXNlcg=="))
    replies(conn, b"334 UGFzc3dvcmQ6\r\n")
    conn.send(AuthResponse("cGFzcw=="))
    replies(conn, b"235 2.7.0 Authentication successful\r\n")
    assert conn.state is State.READY


def test_after_the_handshake_bytes_from_before_it_are_dropped_and_ehlo_is_due() -> None:
    conn = reach(State.STARTTLS_SENT)
    conn.receive_data(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
    conn.next_reply()
    assert conn.state is State.TLS_HANDSHAKE
    assert conn.start_tls() == len(b"250-injected\r\n250 AUTH PLAIN\r\n")
    assert conn.state is State.HELLO
    assert conn.extensions == Extensions()  # RFC 3207 §4.2: forget what plaintext said
    conn.send(Ehlo("c.example"))
    replies(conn, b"250-server.example\r\n250 AUTH LOGIN\r\n")
    assert conn.extensions.auth_mechanisms == {"LOGIN"}


def test_start_tls_is_refused_unless_the_server_said_220() -> None:
    with pytest.raises(LocalProtocolError):
        ready().start_tls()


# --- SMTPUTF8, SIZE and 8BITMIME ------------------------------------------------------------------


def test_a_non_ascii_address_needs_a_transaction_declaring_smtputf8() -> None:
    with pytest.raises(LocalProtocolError, match="SMTPUTF8"):
        ready().send(MailFrom("ada@bücher.example"))
    conn = in_transaction()
    with pytest.raises(LocalProtocolError, match="SMTPUTF8"):
        conn.send(RcptTo("jürgen@example.org"))


def test_a_transaction_declaring_smtputf8_may_use_utf8_addresses() -> None:
    conn = ready(b"250-server.example\r\n250 SMTPUTF8\r\n")
    assert conn.send(MailFrom("ada@bücher.example", ("SMTPUTF8",))) == (
        "MAIL FROM:<ada@bücher.example> SMTPUTF8\r\n".encode()
    )
    replies(conn, b"250 OK\r\n")
    assert conn.send(RcptTo("jürgen@example.org")) == "RCPT TO:<jürgen@example.org>\r\n".encode()


def offered(*lines: str) -> Extensions:
    return Extensions.from_ehlo(Reply(250, None, "\n".join(["server.example", *lines])))


def test_parameters_are_sent_only_when_offered_and_needed() -> None:
    everything = offered("SIZE 100", "8BITMIME", "SMTPUTF8")
    assert mail_parameters(everything, size=10, eight_bit=False, smtputf8=False) == ("SIZE=10",)
    assert mail_parameters(everything, size=10, eight_bit=True, smtputf8=True) == (
        "SIZE=10",
        "BODY=8BITMIME",
        "SMTPUTF8",
    )
    assert mail_parameters(offered(), size=10, eight_bit=False, smtputf8=False) == ()


def test_a_message_over_the_advertised_size_is_refused_locally() -> None:
    with pytest.raises(SMTPNotSupported, match=r"101 bytes.*at most 100"):
        mail_parameters(offered("SIZE 100"), size=101, eight_bit=False, smtputf8=False)


@pytest.mark.parametrize("parameter", ["", "²", "١٢٣", "10 MB", "-5", "+5", " ", "1_000"])
def test_a_malformed_size_parameter_means_no_declared_limit(parameter: str) -> None:
    # RFC 1870 §4: the parameter is optional ASCII digits; "²" passes isdigit() but not int().
    extensions = offered(f"SIZE {parameter}")
    assert extensions.size_limit is None
    assert mail_parameters(extensions, size=10**9, eight_bit=False, smtputf8=False) == (
        "SIZE=1000000000",
    )


def test_size_zero_means_no_limit() -> None:
    assert offered("SIZE 0").size_limit is None
    assert mail_parameters(offered("SIZE 0"), size=10**9, eight_bit=False, smtputf8=False)


def test_eight_bit_bytes_without_8bitmime_are_refused() -> None:
    with pytest.raises(SMTPNotSupported, match="8BITMIME"):
        mail_parameters(offered(), size=1, eight_bit=True, smtputf8=False)


def test_utf8_addresses_without_smtputf8_are_refused() -> None:
    with pytest.raises(SMTPNotSupported, match="SMTPUTF8"):
        mail_parameters(offered("8BITMIME"), size=1, eight_bit=False, smtputf8=True)


def test_utf8_in_the_header_without_smtputf8_is_refused() -> None:
    with pytest.raises(SMTPNotSupported, match=r"header is not ASCII.*SMTPUTF8"):
        mail_parameters(
            offered("8BITMIME"), size=1, eight_bit=True, smtputf8=False, utf8_header=True
        )
    assert mail_parameters(
        offered("8BITMIME", "SMTPUTF8"), size=1, eight_bit=True, smtputf8=False, utf8_header=True
    ) == ("BODY=8BITMIME", "SMTPUTF8")


@pytest.mark.parametrize(
    ("message", "header"),
    [
        (b"To: a\r\nSubject: b\r\n\r\nbody\r\n", b"To: a\r\nSubject: b"),
        (b"To: a\n\nbody\n\nmore\n", b"To: a"),  # bare LF: normalised first
        (b"\r\nbody only\r\n", b""),
        (b"To: a\r\n", b"To: a\r\n.\r\n"),  # no empty line: all of it
    ],
)
def test_the_header_section_ends_at_the_first_empty_line(message: bytes, header: bytes) -> None:
    assert header_section(Content(message).data) == header


# --- every reply class for every command ----------------------------------------------------------

# What each command's replies mean, by class (RFC 5321 §4.2.1, §4.3.2): None is a violation.
CLASSES: dict[str, tuple[Event | object, dict[int, Outcome | None]]] = {
    "greeting": (Greeting(), {220: Outcome.OK, 250: None, 354: None, 421: Outcome.CLOSING,
                              450: Outcome.FAILED, 554: Outcome.FAILED}),
    "EHLO": (Ehlo("c"), {250: Outcome.OK, 354: None, 451: Outcome.FAILED,
                         500: Outcome.UNRECOGNISED, 502: Outcome.UNRECOGNISED,
                         550: Outcome.FAILED}),
    "HELO": (Helo("c"), {250: Outcome.OK, 354: None, 502: Outcome.FAILED}),
    "STARTTLS": (StartTLS(), {220: Outcome.OK, 250: None, 454: Outcome.FAILED}),
    "AUTH": (Auth("LOGIN"), {235: Outcome.OK, 334: Outcome.PROCEED, 354: None,
                             535: Outcome.FAILED}),
    "MAIL": (MailFrom("a@example.org"), {250: Outcome.OK, 354: None, 451: Outcome.FAILED,
                                         552: Outcome.FAILED}),
    "RCPT": (RcptTo("b@example.org"), {250: Outcome.OK, 251: Outcome.OK, 354: None,
                                       450: Outcome.FAILED, 550: Outcome.FAILED}),
    "DATA": (Data(), {250: None, 354: Outcome.PROCEED, 451: Outcome.FAILED,
                      554: Outcome.FAILED}),
    "message": (Content(b"x"), {250: Outcome.OK, 354: None, 452: Outcome.FAILED,
                                554: Outcome.FAILED}),
    "RSET": (Rset(), {250: Outcome.OK, 334: None}),
    "QUIT": (Quit(), {221: Outcome.OK, 421: Outcome.CLOSING}),
}  # fmt: skip


@pytest.mark.parametrize(
    ("command", "code", "outcome"),
    [(c, code, o) for c, codes in CLASSES.values() for code, o in codes.items()],
    ids=[f"{name}-{code}" for name, (_, codes) in CLASSES.items() for code in codes],
)
def test_each_reply_class_to_each_command(
    command: Event, code: int, outcome: Outcome | None
) -> None:
    reply = Reply(code, None, "text")
    if outcome is None:
        with pytest.raises(RemoteProtocolError, match=str(code)):
            classify(command, reply)
    else:
        assert classify(command, reply) is outcome


PIPELINED_REPLIES = b"250 2.1.0 Ok\r\n250-2.1.5 first\r\n250 2.1.5 Ok\r\n354 End data\r\n"


@pytest.mark.parametrize("cut", range(1, len(PIPELINED_REPLIES)))
def test_pipelined_replies_split_at_any_byte_pair_with_their_commands(cut: int) -> None:
    conn = ready(PIPELINING_EHLO)
    for event in (MailFrom("a@example.org"), RcptTo("b@example.org"), Data()):
        conn.send(event)
    got = replies(conn, PIPELINED_REPLIES[:cut]) + replies(conn, PIPELINED_REPLIES[cut:])
    assert [(type(c), r.code, r.enhanced) for c, r in got] == [
        (MailFrom, 250, "2.1.0"),
        (RcptTo, 250, "2.1.5"),
        (Data, 354, None),
    ]
    assert got[1][1].lines == ["first", "Ok"]
    assert conn.state is State.DATA_OPEN


# --- the message content leading the next transaction's group (RFC 2920 §3.1) -----------------


def sent_up_to_content() -> ClientConnection:
    conn = ready(PIPELINING_EHLO)
    for event in (MailFrom("a@example.org"), RcptTo("b@example.org"), Data()):
        conn.send(event)
    replies(conn, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n")
    conn.send(Content(b"hello\r\n"))
    return conn


def test_with_pipelining_the_next_mail_may_follow_the_final_dot() -> None:
    conn = sent_up_to_content()
    group = [MailFrom("c@example.org"), RcptTo("d@example.org"), Data()]
    assert b"".join(conn.send(event) for event in group) == (
        b"MAIL FROM:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n"
    )
    got = replies(conn, b"250 2.0.0 queued\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n")
    assert [type(command) for command, _ in got] == [Content, MailFrom, RcptTo, Data]
    assert conn.state is State.DATA_OPEN


@pytest.mark.parametrize("reply", [b"250 2.0.0 queued\r\n", b"554 5.7.1 rejected\r\n"])
@pytest.mark.parametrize("sent", [1, 2, 3])
def test_the_previous_message_reply_leaves_the_next_transaction_as_it_is(
    reply: bytes, sent: int
) -> None:
    # The server ended the first transaction whatever it said (RFC 5321 §4.1.1.4).
    conn = sent_up_to_content()
    for event in [MailFrom("c@example.org"), RcptTo("d@example.org"), Data()][:sent]:
        conn.send(event)
    before = conn.state
    assert [type(command) for command, _ in replies(conn, reply)] == [Content]
    assert conn.state is before


def test_only_mail_may_follow_the_final_dot() -> None:
    conn = sent_up_to_content()
    for event in (RcptTo("d@example.org"), Data(), Rset(), Quit()):
        with pytest.raises(LocalProtocolError, match="cannot send"):
            conn.send(event)


def test_without_pipelining_the_next_mail_waits_for_the_message_reply() -> None:
    conn = reach(State.CONTENT_SENT)  # after an EHLO without PIPELINING
    with pytest.raises(LocalProtocolError, match="before the reply to <7 bytes"):
        conn.send(MailFrom("c@example.org"))
    assert conn.state is State.CONTENT_SENT


def test_a_421_to_the_message_closes_the_dialogue_with_mail_pipelined() -> None:
    conn = sent_up_to_content()
    conn.send(MailFrom("c@example.org"))
    replies(conn, b"421 4.3.2 shutting down\r\n")
    assert conn.state is State.CLOSED
