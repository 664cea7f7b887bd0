"""The client against Postfix's smtp-sink, which offers PIPELINING and ENHANCEDSTATUSCODES."""

from __future__ import annotations

import pytest
from smtp_servers import SHORT, smtp_sink

from app.smtp import SMTPClient, SMTPNotSupported

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
            smtp.send("Subject: é\r\n\r\nçà\r\n".encode(), "a@example.org", RECIPIENTS[:1])
        assert not any(line.startswith("C: MAIL") for line in smtp.transcript)
