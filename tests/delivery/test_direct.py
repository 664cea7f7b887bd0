"""Direct delivery over real sockets: dnsmasq names the exchangers, capture servers take mail."""

from __future__ import annotations

from dataclasses import replace

import pytest
from exchangers import BUSY, DOWN, GOOD, REFUSER, SECOND, Exchangers

from app.delivery.direct import DirectOptions, DirectResult, deliver_direct
from app.mail import build_message

SENDER = "quizmail@school.example"


def message(*recipients: str) -> bytes:
    return build_message(sender=SENDER, to=list(recipients), subject="Your results", text="8/10")


def send(options: DirectOptions, *recipients: str) -> DirectResult:
    """One message to *recipients*; its To header names the first (a bad one is only in the
    envelope, as the builder refuses it)."""
    (result,) = deliver_direct([(message(recipients[-1]), SENDER, list(recipients))], options)
    return result


def test_one_mx_takes_the_message(options: DirectOptions, exchangers: Exchangers) -> None:
    result = send(options, "ada@good.test", "bob@good.test")
    (domain,) = result.domains
    assert domain.state == "sent"
    assert {o.host for o in domain.recipients.values()} == {f"mx.good.test [{GOOD}]"}
    assert len(exchangers.received(GOOD, "ada@good.test")) == 1
    assert len(exchangers.received(GOOD, "bob@good.test")) == 1
    assert sum(line.startswith("C: EHLO") for line in domain.transcript) == 1  # one connection


def test_down_and_421_hosts_are_passed_over_in_order(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    result = send(options, "ada@backup.test")
    outcome = result.recipients["ada@backup.test"]
    assert outcome.state == "sent"
    assert outcome.host == f"last.backup.test [{SECOND}]"
    assert len(exchangers.received(SECOND, "ada@backup.test")) == 1
    assert exchangers.busy is not None
    assert exchangers.busy.connections == 1
    text = "\n".join(result.transcript)
    assert (
        text.index(f"trying down.backup.test [{DOWN}]")
        < text.index(f"trying busy.backup.test [{BUSY}]")
        < text.index(f"trying last.backup.test [{SECOND}]")
    )
    assert "S: 421 4.3.2 busy.mx.test too busy" in text
    assert text.count("-- moving on to the next host") == 2


def test_a_550_is_final_for_the_domain(options: DirectOptions, exchangers: Exchangers) -> None:
    result = send(options, "ada@refuse.test")
    outcome = result.recipients["ada@refuse.test"]
    assert outcome.state == "failed"
    assert outcome.reply.startswith("550 5.7.1")
    assert outcome.host == f"no.refuse.test [{REFUSER}]"
    assert exchangers.total("ada@refuse.test") == 0  # the backup MX never saw it
    assert "yes.refuse.test" not in "\n".join(result.transcript).split("trying")[-1]


def test_every_host_unreachable_leaves_the_message_queued(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    outcome = send(options, "ada@unreachable.test").recipients["ada@unreachable.test"]
    assert outcome.state == "queued"
    assert outcome.reply.startswith("451 4.4.1 no host of unreachable.test could take it")


def test_recipients_grouped_by_domain_each_with_its_outcome(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    result = send(
        options,
        "ada@good.test",
        "cy@implicit.test",
        "dee@null.test",
        "eve@nowhere.test",
        "fay@[127.0.0.3]",
        "gus@good.test",
    )
    assert [d.domain for d in result.domains] == [
        "good.test",
        "implicit.test",
        "null.test",
        "nowhere.test",
        "[127.0.0.3]",
    ]
    states = {a: o.state for a, o in result.recipients.items()}
    assert states == {
        "ada@good.test": "sent",
        "gus@good.test": "sent",
        "cy@implicit.test": "sent",
        "dee@null.test": "failed",
        "eve@nowhere.test": "failed",
        "fay@[127.0.0.3]": "sent",
    }
    assert result.recipients["dee@null.test"].reply.startswith("556 5.1.10")
    assert result.recipients["dee@null.test"].host is None  # no connection attempted
    assert len(exchangers.received(SECOND, "cy@implicit.test")) == 1
    assert len(exchangers.received(SECOND, "fay@[127.0.0.3]")) == 1


def test_many_messages_for_a_domain_share_one_connection(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    items = [(message(f"s{n}@good.test"), SENDER, [f"s{n}@good.test"]) for n in range(5)]
    results = deliver_direct(items, options)
    assert [r.domains[0].state for r in results] == ["sent"] * 5
    handshakes = {line for r in results for line in r.transcript if line.startswith("C: EHLO")}
    assert len(handshakes) == 1
    assert all(len(exchangers.received(GOOD, f"s{n}@good.test")) == 1 for n in range(5))


def test_an_idn_recipient_goes_to_the_a_label_domain(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    result = send(options, "ada@bücher.test")
    outcome = result.recipients["ada@bücher.test"]
    assert outcome.state == "sent", outcome.reply
    assert "C: RCPT TO:<ada@xn--bcher-kva.test>" in result.transcript  # no SMTPUTF8 needed
    assert len(exchangers.received(GOOD, "ada@bücher.test")) == 1


def test_fifty_mx_hosts_all_down_is_a_bounded_try(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    result = send(replace(options, timeout=1.0), "ada@many.test")
    assert result.recipients["ada@many.test"].state == "queued"
    assert sum("-- trying" in line for line in result.transcript) == 10


@pytest.mark.parametrize("domain", ["", "a" * 64 + ".test", "exa_mple.test"])
def test_a_bad_domain_fails_that_recipient_only(
    options: DirectOptions, exchangers: Exchangers, domain: str
) -> None:
    result = send(options, f"ada@{domain}", "bob@good.test")
    assert result.recipients[f"ada@{domain}"].state == "failed"
    assert result.recipients[f"ada@{domain}"].reply.startswith("553 5.1.3")
    assert result.recipients["bob@good.test"].state == "sent"


def test_a_failure_in_one_domain_leaves_the_others_outcomes(
    options: DirectOptions, exchangers: Exchangers, caplog: pytest.LogCaptureFixture
) -> None:
    # An EHLO name the client refuses to send: every connection fails before the first byte.
    bad = replace(options, local_hostname="bad\r\nname")
    result = send(bad, "ada@good.test", "bob@good.test")
    assert {o.state for o in result.recipients.values()} == {"queued"}
    assert result.recipients["ada@good.test"].reply.startswith("451 4.3.0 internal error")
    assert "direct delivery to good.test failed" in caplog.text


def test_an_address_without_a_domain_fails_without_asking_dns(options: DirectOptions) -> None:
    outcome = send(options, "postmaster", "bob@good.test").recipients["postmaster"]
    assert outcome.state == "failed"
    assert outcome.reply == "553 5.1.3 the domain is empty"
