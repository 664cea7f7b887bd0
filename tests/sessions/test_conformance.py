"""Each rule of the conformance check: the session that breaks it, and one just like it that
does not. Every finding names an RFC section and a level."""

from __future__ import annotations

import pytest

from app.conformance import RULES, check
from app.conformance.message import date_problem, encoded_word_problems

from .scripted import EHLO_REPLY, GOOD_MESSAGE, GREETING, Step, polite, record


def codes(steps: list[Step], **options: bool) -> set[str]:
    return {finding.rule.code for finding in check(record(steps, **options)).findings}


def with_header(field: bytes, value: bytes | None) -> bytes:
    """GOOD_MESSAGE with header *field* replaced by *value* (None: left out)."""
    lines = GOOD_MESSAGE.split(b"\r\n")
    out = [line for line in lines if not line.lower().startswith(field.lower() + b":")]
    if value is not None:
        out.insert(1, field + b": " + value)
    return b"\r\n".join(out)


def test_every_rule_names_a_level_and_a_section() -> None:
    for rule in RULES.values():
        assert rule.level in ("MUST", "SHOULD")
        assert rule.url.startswith("https://www.rfc-editor.org/rfc/rfc")
        assert rule.reference.startswith(f"RFC {rule.rfc} §")


def test_lower_case_verbs_are_no_finding() -> None:
    # RFC 5321 §2.4: verbs and argument keywords are not case sensitive.
    assert codes(polite(GOOD_MESSAGE, b"mail from:<ada@example.org>")) == set()


@pytest.mark.parametrize(
    ("mail", "problem"),
    [
        (b"MAIL FROM: <ada@example.org>", "spaces are not permitted"),
        (b"MAIL FROM:ada@example.org", "not in angle brackets"),
        (b"MAIL FROM:<ada>", "not an address"),
        (b"MAIL  FROM:<ada@example.org>", "one space"),
        (b"MAIL FROM:<ada@example.org>  SIZE=10", "two spaces"),
    ],
)
def test_malformed_mail_from_is_reported_though_the_server_took_it(
    mail: bytes, problem: str
) -> None:
    report = check(record(polite(GOOD_MESSAGE, mail)))
    (finding,) = [f for f in report.findings if f.rule.code == "path-syntax"]
    assert problem in finding.what
    assert finding.lines == (9,)


def test_size_declared_wrongly() -> None:
    right = b"MAIL FROM:<ada@example.org> SIZE=%d" % (len(GOOD_MESSAGE) - 1)
    assert "size-declared" not in codes(polite(GOOD_MESSAGE, right))
    assert "size-declared" in codes(polite(GOOD_MESSAGE, b"MAIL FROM:<a@b.example> SIZE=10"))


def test_eight_bit_needs_8bitmime_and_utf8_headers_need_smtputf8() -> None:
    body = GOOD_MESSAGE + "Grüße\r\n".encode()
    assert "eight-bit-data" in codes(polite(body))
    assert "eight-bit-data" not in codes(polite(body, b"MAIL FROM:<a@b.example> BODY=8BITMIME"))
    header = with_header(b"Subject", "Résultats".encode())
    assert "utf8-header" in codes(polite(header, b"MAIL FROM:<a@b.example> BODY=8BITMIME"))
    assert "utf8-header" not in codes(polite(header, b"MAIL FROM:<a@b.example> SMTPUTF8"))


def test_utf8_address_without_smtputf8() -> None:
    assert "utf8-address" in codes(polite(GOOD_MESSAGE, "MAIL FROM:<élève@école.example>".encode()))
    assert "utf8-address" not in codes(
        polite(GOOD_MESSAGE, "MAIL FROM:<élève@école.example> SMTPUTF8".encode())
    )


def test_parameters_need_their_extension() -> None:
    steps = polite(GOOD_MESSAGE, b"MAIL FROM:<a@b.example> RET=HDRS")
    assert "unoffered-parameter" in codes(steps)


def test_second_transaction_without_rset_after_a_failure() -> None:
    failed = [
        GREETING,
        ("C", b"EHLO c\r\n"),
        *EHLO_REPLY,
        ("C", b"MAIL FROM:<a@b.example>\r\n"),
        ("S", "250 OK"),
        ("C", b"RCPT TO:<x@y.example>\r\n"),
        ("S", "550 5.1.1 No such user here"),
    ]
    again = [("C", b"MAIL FROM:<a@b.example>\r\n"), ("S", "503 nested MAIL")]
    assert "transaction-open" in codes(failed + again)
    assert "transaction-open" not in codes([*failed, ("C", b"RSET\r\n"), ("S", "250 OK"), *again])


def test_before_greeting_mail_before_helo_and_no_quit() -> None:
    steps = [("C", b"MAIL FROM:<a@b.example>\r\n"), GREETING, ("S", "503 send HELO first")]
    assert codes(steps) >= {"before-greeting", "mail-before-helo", "no-quit"}
    assert "no-quit" not in codes(steps, by_client=False)  # the server closed it


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        (b"From", None, "header-from"),
        (b"Date", None, "header-date"),
        (b"Date", b"Thu, 2 Dec 2026 18:30:00 +0000", "date-form"),
        (b"Date", b"Wed, 2 Dec 26 18:30:00 GMT", "date-form"),
        (b"Date", b"2026-12-02T18:30:00Z", "date-form"),
        (b"Message-ID", None, "message-id-missing"),
        (b"Message-ID", b"1.2@example.org", "message-id-form"),
        (b"MIME-Version", None, "mime-version"),
        (b"Subject", b"=?utf-8?x?abc?=", "encoded-word-encoding"),
        (b"Subject", b"=?utf-8?b?not base64?=", "encoded-word-syntax"),
        (b"Subject", b"=?utf-8?q?" + b"a" * 70 + b"?=", "encoded-word-syntax"),
        (b"Subject", b"x=?utf-8?q?a?=", "encoded-word-place"),
        (b"Subject", b"=?utf-8?b?w6k=?= =?utf-8?b?w==?=", "encoded-word-encoding"),
        (b"To", b'"=?utf-8?q?Bob?=" <bob@school.example>', "encoded-word-place"),
        (b"Subject", b"x" * 1000, "header-line-too-long"),
    ],
)
def test_header_checks(field: bytes, value: bytes | None, code: str) -> None:
    assert code in codes(polite(with_header(field, value)))


def test_a_missing_empty_line_before_the_body_is_named() -> None:
    message = b"From: a@b.example\r\nDate: Wed, 2 Dec 2026 18:30:00 +0000\r\nHello there\r\n"
    report = check(record(polite(message)))
    (finding,) = [f for f in report.findings if f.rule.code == "header-syntax"]
    assert "Hello there" in finding.what
    assert "empty line" in finding.what


def test_dot_stuffing_says_what_it_cannot_know() -> None:
    plain = GOOD_MESSAGE.replace(b"..a stuffed line\r\n", b"")
    report = check(record(polite(plain)))
    assert report.findings == ()
    assert any("nothing shows whether the client dot-stuffs" in text for text in report.unknown)
    report = check(record(polite(GOOD_MESSAGE)))
    assert any("cannot tell which" in text for text in report.unknown)
    report = check(record(polite(GOOD_MESSAGE + b".unstuffed\r\n")))
    assert "dot-stuffing" in {f.rule.code for f in report.findings}


def test_date_forms() -> None:
    assert date_problem("Wed, 2 Dec 2026 18:30:00 +0000") is None
    assert date_problem("2 Dec 2026 18:30 -0800 (PST)") is None
    assert "no such day" in (date_problem("31 Feb 2026 10:00:00 +0000") or "")
    assert "English" in (date_problem("Mi, 2 Dez 2026 18:30:00 +0100") or "")


def test_well_formed_encoded_words_pass() -> None:
    assert encoded_word_problems("subject", "=?utf-8?q?R=C3=A9sultats?= de =?UTF-8?B?w6k=?=") == []
    assert encoded_word_problems("from", "=?utf-8?q?Ada?= <ada@example.org>") == []
