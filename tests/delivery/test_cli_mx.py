"""``quizmail mx`` and ``quizmail send --direct`` against dnsmasq and the test exchangers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from dns_server import DnsServer
from exchangers import GOOD, SECOND, Exchangers

from app.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, dns_zone: DnsServer) -> None:
    monkeypatch.setenv("QUIZMAIL_DNS_SERVERS", dns_zone.address)


def mx(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["mx", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.usefixtures("env")
def test_mx_prints_the_records_and_the_order_tried() -> None:
    status, output = mx("backup.test")
    assert status == 0
    assert "backup.test\tmail exchanger = 10 down.backup.test." in output
    assert "backup.test\tmail exchanger = 30 last.backup.test." in output
    assert "QuizMail: MX hosts in the order tried" in output
    assert "  1. down.backup.test (preference 10): 127.0.0.4" in output
    assert f"  3. last.backup.test (preference 30): {SECOND}" in output


@pytest.mark.usefixtures("env")
def test_mx_says_implicit_and_null_mx() -> None:
    status, output = mx("implicit.test", "null.test")
    assert status == 1
    assert "*** implicit.test has no MX records" in output
    assert "the domain itself is the mail host (implicit MX)" in output
    assert "null.test\tmail exchanger = 0 ." in output
    assert "QuizMail: no delivery, for good: 556 5.1.10 null.test says it accepts no mail" in output


@pytest.mark.usefixtures("env")
def test_mx_json() -> None:
    status, output = mx("--json", "good.test", "nowhere.test")
    assert status == 1
    good, nowhere = json.loads(output)
    assert good["verdict"] == "mx"
    assert good["records"] == [{"preference": 10, "exchange": "mx.good.test."}]
    assert good["hosts"][0]["addresses"] == [GOOD]
    assert nowhere["verdict"] == "no-route"
    assert nowhere["reply"].startswith("550 5.1.2")


@pytest.mark.parametrize("domain", ["", "a" * 64 + ".test", "exa_mple.test", "x" * 5000])
@pytest.mark.usefixtures("env")
def test_mx_bad_input_is_one_line(domain: str) -> None:
    status, output = mx(domain)
    assert status == 1
    assert "Traceback" not in output
    assert output.count("\n") <= 2


def test_mx_a_bad_dns_server_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["mx", "--dns-server", "ns.example", "good.test"])
    assert result.exit_code == 2
    assert "DNS server 'ns.example' is not an IP address[:port]" in result.output


def send(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["send", "--from", "teacher@school.example", "--subject", "Hi", "--body", "x", *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def direct_env(env: None, monkeypatch: pytest.MonkeyPatch, exchangers: Exchangers) -> Exchangers:
    monkeypatch.setenv("QUIZMAIL_MX_PORT", str(exchangers.port))
    return exchangers


def test_send_direct_reports_each_domain(direct_env: Exchangers) -> None:
    status, out, err = send("--direct", "-v", "--to", "ada@backup.test", "--to", "bo@null.test")
    assert status == 1
    assert f"sent to ada@backup.test via last.backup.test [{SECOND}]: 250" in out
    assert "-- moving on to the next host" in out  # -v: the transcript
    assert "refused <bo@null.test>: 556 5.1.10 null.test says it accepts no mail" in err
    assert direct_env.total("ada@backup.test") == 1


def test_send_direct_all_sent_is_exit_0(direct_env: Exchangers) -> None:
    status, out, _ = send("--direct", "--to", "ada@good.test", "--to", "bob@[127.0.0.3]")
    assert status == 0
    assert out.count("sent to") == 2


def test_send_direct_not_reached_is_exit_2(direct_env: Exchangers) -> None:
    status, _, err = send("--direct", "--to", "ada@unreachable.test")
    assert status == 2
    assert "not sent to <ada@unreachable.test> (try again later): 451 4.4.1" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "a@good.test"], "give --server HOST[:PORT] (a relay) or --direct"),
        (["--direct", "--server", "x:25", "--to", "a@good.test"], "not both"),
        (["--direct", "--security", "starttls", "--to", "a@good.test"], "are for a relay"),
    ],
)
def test_send_direct_misuse_is_one_line(args: list[str], says: str) -> None:
    status, _, err = send(*args)
    assert status == 2
    assert says in err
    assert err.count("\n") == 1


def test_send_direct_a_bad_port_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIZMAIL_MX_PORT", "70000")
    status, _, err = send("--direct", "--to", "a@good.test")
    assert status == 2
    assert "QUIZMAIL_MX_PORT must be a port from 1 to 65535" in err


def test_send_direct_explain_annotates_the_dialogue(direct_env: Exchangers) -> None:
    status, out, _ = send("--direct", "-v", "--explain", "--to", "ada@good.test")
    assert status == 0
    assert "trying mx.good.test" in out
    assert "RFC 5321" in out
