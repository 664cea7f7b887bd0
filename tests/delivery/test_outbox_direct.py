"""The outbox and the web app's notifier with QUIZMAIL_SMTP_HOST=mx: per-recipient state, and a
retry that goes only to the domains that did not take the message."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from dns_server import DnsServer
from exchangers import GOOD, LATER, Exchangers

from app import create_app
from app.config import PROJECT_ROOT
from app.notify import Deliverer, Notifier, Relay
from app.outbox import Outbox
from app.quiz import grade, load_quiz, new_attempt
from app.report import Student

SENDER = "quizmail@school.example"
MESSAGE = b"From: quizmail@school.example\r\nSubject: results\r\n\r\n8 of 10\r\n"


@pytest.fixture
def config(tmp_path: Path, dns_zone: DnsServer, exchangers: Exchangers) -> dict[str, object]:
    settings = {
        "TESTING": True,
        "VAR_DIR": str(tmp_path / "var"),
        "SMTP_HOST": "mx",
        "MX_PORT": exchangers.port,
        "DNS_SERVERS": dns_zone.address,
        "SMTP_TIMEOUT": 5.0,
        "MAIL_FROM": f"QuizMail <{SENDER}>",
    }
    return dict(create_app(settings).config)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_retry_sends_only_to_the_domain_that_did_not_take_it(
    config: dict[str, object], exchangers: Exchangers
) -> None:
    clock = Clock()
    outbox = Outbox(str(config["OUTBOX_DIR"]), clock=clock)
    deliverer = Deliverer(outbox, Relay.from_config(config))
    message_id = outbox.enqueue(MESSAGE, SENDER, ["ada@good.test", "bob@later.test"])

    (first,) = deliverer.run_once()
    assert first.state == "queued"
    assert first.recipients == ("bob@later.test",)
    assert first.deliveries["ada@good.test"]["state"] == "sent"
    assert first.deliveries["ada@good.test"]["host"] == f"mx.good.test [{GOOD}]"
    assert first.deliveries["bob@later.test"]["state"] == "queued"

    exchangers.start_later()
    clock.now = first.next_try
    (second,) = deliverer.run_once()
    assert second.state == "sent"
    assert second.deliveries["bob@later.test"]["host"] == f"mx.later.test [{LATER}]"
    assert second.deliveries["ada@good.test"] == first.deliveries["ada@good.test"]
    assert exchangers.total("ada@good.test") == 1  # never twice
    assert exchangers.total("bob@later.test") == 1
    assert outbox.lookup(message_id) == second


def test_a_permanent_refusal_and_an_acceptance_make_a_sent_record(
    config: dict[str, object], exchangers: Exchangers
) -> None:
    outbox = Outbox(str(config["OUTBOX_DIR"]))
    outbox.enqueue(MESSAGE, SENDER, ["ada@good.test", "dee@null.test"])
    (record,) = Deliverer(outbox, Relay.from_config(config)).run_once()
    assert record.state == "sent"
    assert record.deliveries["dee@null.test"]["state"] == "failed"
    assert record.deliveries["dee@null.test"]["reply"].startswith("556 5.1.10")


def test_every_recipient_refused_makes_a_failed_record(
    config: dict[str, object], exchangers: Exchangers
) -> None:
    outbox = Outbox(str(config["OUTBOX_DIR"]))
    outbox.enqueue(MESSAGE, SENDER, ["ada@refuse.test"])
    (record,) = Deliverer(outbox, Relay.from_config(config)).run_once()
    assert record.state == "failed"
    assert record.reply is not None
    assert record.reply.startswith("550 5.7.1")


def test_the_web_apps_notifier_emails_results_straight_to_the_mx(
    config: dict[str, object], exchangers: Exchangers
) -> None:
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    attempt = new_attempt(quiz, random.Random(1))
    result = grade(quiz, attempt, {}, attempt.started_at)
    notifier = Notifier.from_config(config)
    try:
        record = notifier.email_results(result, Student("ada@good.test", "Ada"))
    finally:
        notifier.close()
    assert record.state == "sent", record.last_error
    assert any("-- trying mx.good.test" in line for line in record.transcript)
    (stored,) = exchangers.received(GOOD, "ada@good.test")
    assert b"results.json" in stored


def test_a_bad_dns_server_setting_is_a_one_line_config_error(config: dict[str, object]) -> None:
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="QUIZMAIL_DNS_SERVERS: DNS server 'nameserver'"):
        Relay.from_config({**config, "DNS_SERVERS": "nameserver"})


def test_a_null_mx_refusal_is_explained_in_plain_words(
    config: dict[str, object], exchangers: Exchangers
) -> None:
    from app.notify import explain

    outbox = Outbox(str(config["OUTBOX_DIR"]))
    outbox.enqueue(MESSAGE, SENDER, ["dee@null.test"])
    (record,) = Deliverer(outbox, Relay.from_config(config)).run_once()
    assert record.state == "failed"
    assert explain(record).startswith("The recipient's domain says it accepts no mail")


def test_quizmail_deliver_says_it_delivers_to_each_domains_mx(
    config: dict[str, object], exchangers: Exchangers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from app.cli import main

    for name in ("VAR_DIR", "MX_PORT", "DNS_SERVERS", "SMTP_HOST"):
        monkeypatch.setenv(f"QUIZMAIL_{name}", str(config[name]))
    Outbox(str(config["OUTBOX_DIR"])).enqueue(MESSAGE, SENDER, ["ada@good.test", "bo@later.test"])
    result = CliRunner().invoke(main, ["deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "outbox: 1 queued, 0 sent, 0 failed" in result.output
    assert exchangers.total("ada@good.test") == 1
