"""Every reader of stored data, fed hostile input: it returns a value or says what is wrong in
its own terms (a domain error), and never lets another exception out — so one bad record can
never take a page, a command or a mailbox down. The message generator mixes the shapes that
broke readers before (dates no datetime holds, MIME nested past any recursion limit, encoded
words and RFC 2231 parameters with unknown charsets, truncated base64, bare CRs, NULs) with
random bytes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.mail import build_message
from app.outbox import OutboxRecord
from app.store import MailStore, gradebook
from app.store.gradebook import Entry, Unreadable
from app.store.message_view import attachment_data, parse_message
from app.store.parsing import parse_for_index

DATES = [
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 1 Jan 0001 00:00:00 +2359",
    "31 Feb 2026 25:61:61 +0000",
    "yesterday",
    "",
    "Tue, 2 Dec 2026 10:00:00 +9999",
]
HEADERS = [
    b"Subject: =?utf-8?B?////?=",
    b"Subject: =?x-unknown?Q?caf=E9?=",
    b"Subject: \x1b]0;retitled\x07",
    b'From: "unterminated <a@b',
    b"To: a@b, , ,,, <>",
    b"Subject: \xff\xfe raw 8-bit",
    b'Content-Type: text/plain; charset="no-such-charset"',
    b"Content-Type: text/plain; name*=x-unknown''%FF%FE",
    b"Content-Disposition: attachment; filename*0*=utf-8''a%; filename*1=b",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Type: multipart/mixed",
    b"Content-Type: message/rfc822",
    b"Message-ID: <\x00>",
]
BODIES = [
    b"",
    b"=E9=\r\n=XY==",
    b"////\r\n!!!!",
    b"\x00\x00\r\r\r\n.\r\n",
    b"<html><script>alert(1)</script><img src=http://x/>",
]


def nested_multipart(depth: int) -> bytes:
    """A multipart body nested *depth* levels: past Python's recursion limit at ~1,000."""
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    return head + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


@st.composite
def hostile_mail(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    lines = [b"Date: " + draw(st.sampled_from(DATES)).encode()]
    lines += draw(st.lists(st.sampled_from(HEADERS), max_size=6))
    attachment = draw(st.sampled_from([b"", b"results.json", b"results.json\x00"]))
    if attachment:
        lines.append(b'Content-Disposition: attachment; filename="' + attachment + b'"')
    body = draw(st.sampled_from(BODIES)) + draw(st.binary(max_size=60))
    message = b"\r\n".join(lines) + b"\r\n\r\n" + body
    if draw(st.integers(0, 9)) == 0:
        message = b"Subject: deep\r\n" + nested_multipart(draw(st.sampled_from([50, 1200])))
    return message


@settings(max_examples=40, deadline=None)
@given(hostile_mail())
def test_the_message_view_takes_any_mail_apart(raw: bytes) -> None:
    view = parse_message(raw)
    for index in range(len(view.attachments)):
        assert attachment_data(raw, index) is not None
    assert attachment_data(raw, len(view.attachments)) is None


@settings(max_examples=40, deadline=None)
@given(hostile_mail())
def test_the_index_reads_any_mail(raw: bytes) -> None:
    fields = parse_for_index(raw)
    assert fields.date is None or isinstance(fields.date, float)


@settings(max_examples=40, deadline=None)
@given(hostile_mail())
def test_the_gradebook_reads_any_mail_as_a_row_an_unreadable_email_or_none(raw: bytes) -> None:
    row = gradebook.read_message(raw, secret="key")
    assert row is None or isinstance(row, Entry | Unreadable)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = ("schema", "quiz", "student", "attempt_id", "submitted_at", "sent_at", "score")


@given(st.dictionaries(st.sampled_from(FIELDS), JSON) | JSON)
def test_any_results_json_is_a_row_or_says_what_is_wrong(payload: object) -> None:
    attachment = ("results.json", "application/json", json.dumps(payload).encode())
    raw = build_message(
        sender="quizmail@example.org",
        to="ada@example.org",
        subject="Your results",
        text="See the attachments.",
        attachments=(attachment,),
    )
    row = gradebook.read_message(raw)
    assert isinstance(row, Entry | Unreadable)
    if isinstance(row, Unreadable):
        assert row.reason


RECORD_FIELDS = (
    "id", "sender", "recipients", "queued_at", "next_try", "attempts", "state", "transcript",
    "info", "finished_at", "last_error",
)  # fmt: skip


@given(st.dictionaries(st.sampled_from(RECORD_FIELDS), JSON) | JSON | st.binary(max_size=80))
def test_any_outbox_line_is_a_record_or_a_value_error(line: object) -> None:
    raw = line if isinstance(line, bytes) else json.dumps(line).encode()
    try:
        OutboxRecord.from_json(raw)
    except ValueError as problem:
        message = str(problem)
    else:
        message = "read"
    assert message


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(hostile_mail(), min_size=1, max_size=4))
def test_poisoned_mail_sits_beside_good_mail_in_every_listing(
    tmp_path: Path, raws: list[bytes]
) -> None:
    with MailStore(tmp_path / uuid.uuid4().hex) as store:  # one store per example
        good = b"From: ada@example.org\r\nSubject: A good one\r\n\r\nHello\r\n"
        store.deliver(["ada@example.org"], good)
        for raw in raws:
            store.deliver(["ada@example.org"], raw)
        listed = store.search(to="ada@example.org", limit=100)
        assert len(listed) == len(raws) + 1
        assert "A good one" in [summary.subject for summary in listed]
        assert store.count(text="good one") >= 1
        for summary in listed:
            store.summary(summary.id)
            parse_message(store.get_bytes(summary.id))
        gradebook.read_store(store, secret="key")
