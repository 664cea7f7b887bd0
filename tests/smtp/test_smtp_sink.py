"""The client against Postfix's smtp-sink, which offers PIPELINING and ENHANCEDSTATUSCODES."""

from __future__ import annotations

import pytest
from smtp_servers import SHORT, smtp_sink

from app.smtp import (
    SendResult,
    SMTPClient,
    SMTPNotAttempted,
    SMTPNotSupported,
    SMTPTransportError,
)

MESSAGE = b"Subject: sink\r\n\r\nHello\r\n"
RECIPIENTS = ["b@example.org", "c@example.org", "d@example.org"]


def spy_on_writes(smtp: SMTPClient) -> list[bytes]:
    """Record every write the client makes to its socket."""
    writes: list[bytes] = []
    write = smtp._write

    def recording(data: bytes, *args: object) -> None:
        writes.append(data)
        write(data, *args)  # type: ignore[arg-type]

    smtp._write = recording  # type: ignore[method-assign]
    return writes


def test_mail_every_rcpt_and_data_go_in_one_write(smtp_sink_binary: str) -> None:
    with smtp_sink(smtp_sink_binary) as port, SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp:
        writes = spy_on_writes(smtp)
        result = smtp.send(MESSAGE, "a@example.org", RECIPIENTS)
        smtp.send(MESSAGE, "a@example.org", RECIPIENTS[:1])
    assert result.accepted == RECIPIENTS
    assert result.reply.enhanced == "2.0.0"
    assert writes[0] == (
        b"MAIL FROM:<a@example.org>\r\n"
        b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\n"
        b"DATA\r\n"
    )
    assert writes[1] == MESSAGE + b".\r\n"
    assert len(writes) == 5  # two writes per message, then QUIT


def test_without_pipelining_each_command_is_its_own_write(smtp_sink_binary: str) -> None:
    with (
        smtp_sink(smtp_sink_binary, "-p") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        writes = spy_on_writes(smtp)
        smtp.send(MESSAGE, "a@example.org", RECIPIENTS)
    assert writes[:5] == [
        b"MAIL FROM:<a@example.org>\r\n",
        *(f"RCPT TO:<{r}>\r\n".encode() for r in RECIPIENTS),
        b"DATA\r\n",
    ]


def test_without_enhancedstatuscodes_the_text_is_left_whole(smtp_sink_binary: str) -> None:
    with (
        smtp_sink(smtp_sink_binary, "-E") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        result = smtp.send(MESSAGE, "a@example.org", RECIPIENTS[:1])
    assert (result.reply.enhanced, result.reply.text) == (None, "2.0.0 Ok")


def test_without_8bitmime_an_8bit_body_is_refused_before_mail(smtp_sink_binary: str) -> None:
    with (
        smtp_sink(smtp_sink_binary, "-8") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        with pytest.raises(SMTPNotSupported, match="8BITMIME"):
            smtp.send("Subject: hi\r\n\r\nçà\r\n".encode(), "a@example.org", RECIPIENTS[:1])
        assert not any(line.startswith("C: MAIL") for line in smtp.transcript)


def test_a_batch_costs_one_write_per_message(smtp_sink_binary: str) -> None:
    # RFC 2920 §3.1: each message's dot goes with the next message's MAIL, RCPT and DATA.
    group = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    with smtp_sink(smtp_sink_binary) as port, SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp:
        writes = spy_on_writes(smtp)
        outcomes = smtp.send_many([(MESSAGE, "a@example.org", RECIPIENTS[:1])] * 3)
    assert [outcome.reply.enhanced for outcome in outcomes] == ["2.0.0"] * 3  # type: ignore[union-attr]
    assert writes[:4] == [
        group,
        MESSAGE + b".\r\n" + group,
        MESSAGE + b".\r\n" + group,
        MESSAGE + b".\r\n",
    ]


def test_a_batch_with_every_message_refused_goes_through_each(smtp_sink_binary: str) -> None:
    # -f . refuses each message after its dot (and turns PIPELINING off: one by one).
    with (
        smtp_sink(smtp_sink_binary, "-f", ".") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        outcomes = smtp.send_many([(MESSAGE, "a@example.org", RECIPIENTS[:1])] * 3)
    assert [getattr(outcome, "code", None) for outcome in outcomes] == [500, 500, 500]


def test_a_server_hanging_up_after_a_dot_ends_the_batch(smtp_sink_binary: str) -> None:
    with (
        smtp_sink(smtp_sink_binary, "-q", ".") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        outcomes = smtp.send_many([(MESSAGE, "a@example.org", RECIPIENTS[:1])] * 3)
    assert type(outcomes[0]) is SMTPTransportError
    assert [type(outcome) for outcome in outcomes[1:]] == [SMTPNotAttempted] * 2


def test_a_batch_decides_8bitmime_per_message(smtp_sink_binary: str) -> None:
    eight_bit = "Subject: é\r\n\r\nçà\r\n".encode()
    with (
        smtp_sink(smtp_sink_binary, "-8") as port,
        SMTPClient("127.0.0.1", port, timeout=SHORT) as smtp,
    ):
        outcomes = smtp.send_many(
            [
                (message, "a@example.org", RECIPIENTS[:1])
                for message in (MESSAGE, eight_bit, MESSAGE)
            ]
        )
    assert [type(outcome) for outcome in outcomes] == [SendResult, SMTPNotSupported, SendResult]
