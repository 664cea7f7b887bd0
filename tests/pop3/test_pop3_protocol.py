"""The sans-IO POP3 core: bytes in, events and bytes out (RFC 1939, RFC 2449, RFC 2595)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pop3.protocol import (
    MAX_COMMAND_LINE,
    NEED_DATA,
    Login,
    Maildrop,
    MaildropMessage,
    POP3Connection,
    ProtocolMisuse,
    Reply,
    StartTLS,
    State,
    Update,
    dot_stuff,
    remove_messages,
    to_crlf,
    top_of,
    wire_size,
)
from app.pop3.wire import DOTS_ONE_BY_ONE

MESSAGES = {
    "uid-1": b"Subject: one\r\n\r\nHello\r\n.hidden dot\r\n",
    "uid-2": b"Subject: two\n\nbare LF body\n..two dots\n",
    "uid-3": b".starts with a dot\r\nline 2\r\nline 3\r\n",
}


class FakeStore:
    def __init__(self) -> None:
        self.data = dict(MESSAGES)
        self.deleted: list[str] = []

    def maildrop(self) -> Maildrop:
        messages = [
            MaildropMessage(uid, wire_size(raw), lambda uid=uid: self.data[uid])
            for uid, raw in self.data.items()
        ]
        return Maildrop(messages, self.delete)

    def delete(self, uid: str) -> None:
        self.deleted.append(uid)
        del self.data[uid]


def events(conn: POP3Connection, data: bytes) -> list[object]:
    conn.receive_data(data)
    out: list[object] = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
        if isinstance(event, Login | Update):
            break  # the driver must answer these before the next event
    return out


def say(conn: POP3Connection, line: str) -> bytes:
    (event,) = events(conn, line.encode() + b"\r\n")
    assert isinstance(event, Reply)
    return event.data


def logged_in(store: FakeStore | None = None) -> POP3Connection:
    conn = POP3Connection(timestamp="<1.2@test>")
    *_, login = events(conn, b"USER ada@example.org\r\nPASS secret word\r\n")
    assert login == Login("ada@example.org", password="secret word")
    conn.login_succeeded((store or FakeStore()).maildrop())
    return conn


def test_greeting_carries_the_apop_timestamp() -> None:
    conn = POP3Connection(timestamp="<123.456@host>")
    assert conn.greeting() == b"+OK QuizMail POP3 server ready <123.456@host>\r\n"


def test_without_a_timestamp_the_greeting_offers_no_apop_and_apop_is_refused() -> None:
    conn = POP3Connection(timestamp=None)
    assert conn.greeting() == b"+OK QuizMail POP3 server ready\r\n"  # RFC 1939 §7
    digest = "c4c9334bac560ecc979e58001b3e22fb"
    assert say(conn, f"APOP ada {digest}") == (
        b"-ERR APOP is not offered by this server: log in with USER and PASS\r\n"
    )
    assert conn.failures == 0
    assert conn.state is State.AUTHORIZATION


@pytest.mark.parametrize("timestamp", [None, "<1.2@test>"])
def test_capa_claims_nothing_of_apop(timestamp: str | None) -> None:
    # RFC 2449 defines no APOP capability: the greeting alone says whether it is offered.
    assert b"APOP" not in say(POP3Connection(timestamp=timestamp), "CAPA")


def test_user_pass_yields_a_login_event_and_success_enters_transaction() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert say(conn, "user ada@example.org") == b"+OK send PASS\r\n"
    (login,) = events(conn, b"PASS pass with spaces\r\n")
    assert login == Login("ada@example.org", password="pass with spaces")
    reply = conn.login_succeeded(FakeStore().maildrop())
    size = sum(wire_size(m) for m in MESSAGES.values())
    assert reply.data == f"+OK maildrop has 3 messages ({size} octets)\r\n".encode()
    assert conn.state is State.TRANSACTION


def test_next_event_before_answering_a_login_is_a_local_error() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    events(conn, b"USER a\r\nPASS b\r\nSTAT\r\n")
    with pytest.raises(ProtocolMisuse):
        conn.next_event()


def test_commands_split_at_every_byte_boundary() -> None:
    data = b"USER ada\r\nPASS pw\r\n"
    for cut in range(len(data) + 1):
        conn = POP3Connection(timestamp="<t@h>")
        got = events(conn, data[:cut])
        if Login("ada", password="pw") not in got:
            got += events(conn, data[cut:])
        assert got == [Reply(b"+OK send PASS\r\n"), Login("ada", password="pw")]


def test_line_waiting_says_whether_a_command_line_is_complete() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert not conn.line_waiting()
    conn.receive_data(b"CAPA\r\nNO")
    assert conn.line_waiting()
    conn.next_event()
    assert not conn.line_waiting()
    conn.receive_data(b"OP\r\n")
    assert conn.line_waiting()


def test_pipelined_commands_answer_in_order() -> None:
    conn = logged_in()
    got = events(conn, b"STAT\r\nDELE 1\r\nLIST 1\r\nNOOP\r\n")
    size = sum(wire_size(m) for m in MESSAGES.values())
    assert [e.data for e in got if isinstance(e, Reply)] == [
        b"+OK 3 %d\r\n" % size,
        b"+OK message 1 deleted\r\n",
        b"-ERR message 1 is already deleted\r\n",
        b"+OK \r\n",
    ]


def test_wrong_state_and_unknown_commands_say_why() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert say(conn, "STAT") == b"-ERR STAT is not allowed before login\r\n"
    assert say(conn, "XYZZY 1") == b"-ERR unknown command 'XYZZY': CAPA lists what is supported\r\n"
    assert say(conn, "PASS x") == b"-ERR send USER first\r\n"
    assert say(conn, "") == b"-ERR empty command line: send a command such as CAPA or QUIT\r\n"
    conn = logged_in()
    assert say(conn, "USER bob") == b"-ERR USER is not allowed after login\r\n"


def test_over_long_line_is_one_error_and_the_next_command_works() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    too_long = b"USER " + b"a" * MAX_COMMAND_LINE + b"\r\n"
    got = events(conn, too_long[:100]) + events(conn, too_long[100:] + b"CAPA\r\n")
    assert got[0] == Reply(b"-ERR command line too long: at most 255 octets with CRLF\r\n")
    assert isinstance(got[1], Reply)
    assert got[1].data.startswith(b"+OK Capability list follows\r\n")
    assert len(got) == 2


def test_a_line_of_exactly_255_octets_is_accepted() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    line = b"USER " + b"a" * (MAX_COMMAND_LINE - 7) + b"\r\n"
    assert len(line) == MAX_COMMAND_LINE
    assert events(conn, line) == [Reply(b"+OK send PASS\r\n")]


def test_invalid_utf8_is_an_error_not_an_exception() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert events(conn, b"USER \xff\r\n") == [Reply(b"-ERR command line is not valid UTF-8\r\n")]


def test_message_numbers_that_do_not_exist_or_are_not_numbers() -> None:
    conn = logged_in()
    assert say(conn, "RETR 4") == b"-ERR no message 4: the maildrop has 3 messages\r\n"
    assert say(conn, "RETR 0") == b"-ERR message number must be a positive integer, not '0'\r\n"
    assert say(conn, "LIST x") == b"-ERR message number must be a positive integer, not 'x'\r\n"
    assert say(conn, "DELE") == b"-ERR DELE takes a message number\r\n"
    assert say(conn, "TOP 1") == b"-ERR TOP takes a message number and a count of lines\r\n"


def test_list_and_uidl_listings() -> None:
    conn = logged_in()
    sizes = [wire_size(m) for m in MESSAGES.values()]
    assert say(conn, "LIST") == (
        b"+OK scan listing follows\r\n1 %d\r\n2 %d\r\n3 %d\r\n.\r\n" % tuple(sizes)
    )
    assert say(conn, "UIDL 2") == b"+OK 2 uid-2\r\n"
    say(conn, "DELE 2")
    assert say(conn, "UIDL") == b"+OK unique-id listing follows\r\n1 uid-1\r\n3 uid-3\r\n.\r\n"


def test_retr_sends_crlf_and_byte_stuffs_lines_starting_with_a_dot() -> None:
    conn = logged_in()
    assert say(conn, "RETR 2") == (
        b"+OK 42 octets\r\nSubject: two\r\n\r\nbare LF body\r\n...two dots\r\n.\r\n"
    )
    assert say(conn, "RETR 3").startswith(b"+OK 36 octets\r\n..starts with a dot\r\n")


def test_sizes_are_the_octets_sent_before_stuffing() -> None:
    for raw in MESSAGES.values():
        assert wire_size(raw) == len(to_crlf(raw))
    assert wire_size(b"no final newline") == len(b"no final newline\r\n")


def test_top_sends_header_blank_line_and_n_body_lines() -> None:
    message = b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
    assert top_of(message, 0) == b"A: 1\r\nB: 2\r\n\r\n"
    assert top_of(message, 2) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\n"
    assert top_of(message, 3) == message
    assert top_of(message, 99) == message
    conn = logged_in()
    assert (
        say(conn, "TOP 1 1") == b"+OK top of message follows\r\nSubject: one\r\n\r\nHello\r\n.\r\n"
    )


def test_dele_marks_rset_unmarks_and_nothing_is_removed_before_quit() -> None:
    store = FakeStore()
    conn = logged_in(store)
    say(conn, "DELE 1")
    assert say(conn, "RETR 1") == b"-ERR message 1 is already deleted\r\n"
    assert say(conn, "STAT") == b"+OK 2 %d\r\n" % sum(
        wire_size(m) for m in list(MESSAGES.values())[1:]
    )
    assert say(conn, "RSET").startswith(b"+OK maildrop has 3 messages")
    say(conn, "DELE 3")
    assert store.deleted == []


def quit_and_update(conn: POP3Connection) -> Reply:
    """QUIT in TRANSACTION, with the driver's part of the UPDATE state done."""
    (update,) = events(conn, b"QUIT\r\n")
    assert isinstance(update, Update)
    assert conn.state is State.UPDATE
    return conn.update_done(remove_messages(update))


def test_quit_in_transaction_enters_update_and_removes_marked_messages() -> None:
    store = FakeStore()
    conn = logged_in(store)
    say(conn, "DELE 3")
    say(conn, "DELE 1")
    (update,) = events(conn, b"QUIT\r\n")
    assert isinstance(update, Update)
    assert update.uids == ("uid-1", "uid-3")
    assert store.deleted == []  # the driver removes them
    reply = conn.update_done(remove_messages(update))
    assert reply == Reply(b"+OK QuizMail POP3 server signing off\r\n", close=True)
    assert store.deleted == ["uid-1", "uid-3"]
    assert conn.state is State.CLOSED


def test_quit_reports_deletions_that_failed() -> None:
    store = FakeStore()
    conn = logged_in(store)
    say(conn, "DELE 2")
    del store.data["uid-2"]  # removed by someone else meanwhile
    reply = quit_and_update(conn)
    assert reply == Reply(b"-ERR [SYS/TEMP] 1 deleted messages not removed\r\n", close=True)


def test_quit_without_deletions_removes_nothing() -> None:
    store = FakeStore()
    conn = logged_in(store)
    assert quit_and_update(conn).close
    assert store.deleted == []


def test_a_message_removed_from_the_store_during_the_session_is_an_error() -> None:
    store = FakeStore()
    conn = logged_in(store)
    del store.data["uid-1"]
    assert say(conn, "RETR 1") == (
        b"-ERR [SYS/TEMP] message 1 can no longer be read from the store\r\n"
    )


def test_quit_in_authorization_closes_without_update() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    (reply,) = events(conn, b"QUIT\r\n")
    assert isinstance(reply, Reply)
    assert reply.close
    assert conn.state is State.CLOSED


def test_failed_logins_are_counted_and_the_last_closes() -> None:
    conn = POP3Connection(timestamp="<t@h>", max_failures=2)
    events(conn, b"USER a\r\nPASS b\r\n")
    assert conn.login_failed("[AUTH] wrong") == Reply(b"-ERR [AUTH] wrong\r\n")
    events(conn, b"USER a\r\nPASS b\r\n")
    last = conn.login_failed("[AUTH] wrong")
    assert last.close
    assert b"too many failed logins" in last.data
    assert conn.state is State.CLOSED


def test_mailbox_in_use_does_not_count_as_a_failure() -> None:
    conn = POP3Connection(timestamp="<t@h>", max_failures=1)
    events(conn, b"USER a\r\nPASS b\r\n")
    reply = conn.login_failed("[IN-USE] mailbox locked by another session", counts=False)
    assert reply == Reply(b"-ERR [IN-USE] mailbox locked by another session\r\n")
    assert conn.state is State.AUTHORIZATION


def test_apop_checks_the_digest_syntax_and_yields_a_login() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert say(conn, "APOP ada XYZ").startswith(b"-ERR APOP digest must be 32")
    digest = "c4c9334bac560ecc979e58001b3e22fb"
    assert events(conn, f"APOP ada {digest}\r\n".encode()) == [Login("ada", digest=digest)]


def test_capa_lists_capabilities_by_state_and_tls() -> None:
    conn = POP3Connection(timestamp="<t@h>", tls_available=True)
    capa = say(conn, "CAPA")
    for cap in (b"TOP", b"UIDL", b"USER", b"RESP-CODES", b"PIPELINING", b"STLS"):
        assert b"\r\n" + cap + b"\r\n" in capa
    assert b"\r\nIMPLEMENTATION QuizMail\r\n.\r\n" in capa
    conn.tls_established()
    assert b"STLS" not in say(conn, "CAPA")


def test_plaintext_login_refused_until_tls() -> None:
    conn = POP3Connection(timestamp="<t@h>", tls_available=True, plaintext_login=False)
    refusal = b"-ERR [AUTH] plaintext login refused on this connection: use STLS first\r\n"
    assert say(conn, "USER ada") == refusal
    assert b"\r\nUSER\r\n" not in say(conn, "CAPA")
    (event,) = events(conn, b"STLS\r\n")
    assert event == StartTLS(Reply(b"+OK Begin TLS negotiation\r\n"))
    conn.tls_established()
    assert say(conn, "USER ada") == b"+OK send PASS\r\n"


def test_plaintext_refusal_without_tls_points_to_apop() -> None:
    conn = POP3Connection(timestamp="<t@h>", plaintext_login=False)
    assert say(conn, "USER ada") == (
        b"-ERR [AUTH] plaintext login refused on this connection and STLS is off: use APOP\r\n"
    )
    digest = "c4c9334bac560ecc979e58001b3e22fb"
    assert events(conn, f"APOP ada {digest}\r\n".encode()) == [Login("ada", digest=digest)]


def test_plaintext_refusal_without_tls_or_apop_says_so() -> None:
    conn = POP3Connection(timestamp=None, plaintext_login=False)
    assert say(conn, "USER ada") == (
        b"-ERR [AUTH] plaintext login refused on this connection, and neither STLS nor APOP"
        b" is offered: connect over loopback\r\n"
    )


def test_commands_pipelined_behind_stls_are_discarded() -> None:
    # RFC 2595 §4 / plaintext command injection: nothing sent before the handshake survives it.
    conn = POP3Connection(timestamp="<t@h>", tls_available=True)
    got = events(conn, b"STLS\r\nUSER mallory\r\n")
    assert len(got) == 1
    assert isinstance(got[0], StartTLS)
    conn.tls_established()
    assert say(conn, "PASS x") == b"-ERR send USER first\r\n"


def test_stls_without_certificate_and_twice() -> None:
    conn = POP3Connection(timestamp="<t@h>")
    assert say(conn, "STLS") == b"-ERR STLS is not available: the server has no certificate\r\n"
    conn = POP3Connection(timestamp="<t@h>", tls_available=True)
    conn.tls_established()
    assert say(conn, "STLS") == b"-ERR TLS is already active\r\n"


@given(st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"")), max_size=8))
def test_dot_stuffing_round_trips_like_a_client_unstuffs(lines: list[bytes]) -> None:
    message = to_crlf(b"\n".join(lines))
    sent = dot_stuff(message)
    assert unstuffed_by_line(sent) == message
    assert all(line != b"." for line in sent.split(b"\r\n"))


def unstuffed_by_line(sent: bytes) -> bytes:
    """What a client makes of a stuffed body: each line loses one leading "." (RFC 1939 §3)."""
    lines = sent.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


@given(st.text(alphabet=".a\n", max_size=400))
def test_dot_stuffing_agrees_with_one_replace_over_the_whole_message(text: str) -> None:
    # Dense dots: most examples pass DOTS_ONE_BY_ONE, where stuffing switches to bytes.replace.
    message = to_crlf(text.encode())
    replaced = message.replace(b"\r\n.", b"\r\n..")
    assert dot_stuff(message) == (b"." + replaced if message.startswith(b".") else replaced)


@pytest.mark.parametrize("dots", [0, 1, DOTS_ONE_BY_ONE - 1, DOTS_ONE_BY_ONE, 3 * DOTS_ONE_BY_ONE])
def test_dot_stuffing_is_exact_however_many_dots_come_first(dots: int) -> None:
    # Past DOTS_ONE_BY_ONE dots the rest is stuffed another way: lines on both sides of the
    # switch, with dots inside lines as well as at their start, come back exactly.
    text = b"a.b\r\n" * dots + b".first\r\nmid.dle\r\n..\r\n.\r\nx.\r\n.last\r\n"
    for message in (text, b"." + text, b"no dots\r\n" + text):
        stuffed = dot_stuff(message)
        assert unstuffed_by_line(stuffed) == message
        assert b"\r\n.\r\n" not in stuffed
        assert not stuffed.startswith(b".\r\n")
        assert len(stuffed) - len(message) == message.count(b"\r\n.") + message.startswith(b".")


def test_any_store_failure_while_reading_is_an_error_reply() -> None:
    def broken() -> bytes:
        raise RuntimeError("database is locked")

    conn = POP3Connection(timestamp="<t@h>")
    events(conn, b"USER a\r\nPASS b\r\n")
    conn.login_succeeded(Maildrop([MaildropMessage("u", 10, broken)], FakeStore().delete))
    assert say(conn, "RETR 1") == (
        b"-ERR [SYS/TEMP] message 1 can no longer be read from the store\r\n"
    )
