"""docker-compose.yml: gunicorn web app + capture server sharing the mailbox volume."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.capture import DEFAULT_PORT

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def default(value: str) -> str:
    """``${VAR:-word}`` → ``word``: the value when the variable is not set."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def quizmail_services(compose: dict[str, Any]) -> dict[str, Any]:
    """The services of QuizMail's image, without the optional ones of a profile."""
    return {n: s for n, s in compose["services"].items() if "profiles" not in s}


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed"
)
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_web_runs_gunicorn_with_two_workers(compose: dict[str, Any]) -> None:
    command = compose["services"]["web"]["command"]
    assert command[:3] == ["gunicorn", "-w", "2"]
    assert command[-1] == "app:create_app()"


def test_capture_is_the_web_apps_relay(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]["environment"]
    capture = compose["services"]["capture"]
    assert capture["command"] == ["quizmail", "capture"]
    assert web["QUIZMAIL_SMTP_HOST"] == "capture" == capture["hostname"]
    assert int(capture["environment"]["QUIZMAIL_CAPTURE_PORT"]) == DEFAULT_PORT
    # Through the submission port, as to a real relay: STARTTLS, then the generated login.
    submission = capture["environment"]["QUIZMAIL_CAPTURE_SUBMISSION_PORT"]
    assert int(web["QUIZMAIL_SMTP_PORT"]) == int(submission)
    assert web["QUIZMAIL_SMTP_SECURITY"] == "starttls"
    login = capture["environment"]["QUIZMAIL_CAPTURE_AUTH_LOGIN"]
    assert login == f"{web['QUIZMAIL_SMTP_USER']}:{web['QUIZMAIL_SMTP_PASSWORD_FILE']}"
    ca_dir = capture["environment"]["QUIZMAIL_CAPTURE_TLS_LOCAL_CA"]
    assert web["SSL_CERT_FILE"] == f"{ca_dir}/trust.pem"


def test_both_share_the_mailbox_volume(compose: dict[str, Any]) -> None:
    services = quizmail_services(compose)
    mailboxes = {s["environment"]["QUIZMAIL_MAILBOX_DIR"] for s in services.values()}
    assert len(mailboxes) == 1
    for service in services.values():
        volume, _, mount = service["volumes"][0].partition(":")
        assert volume in compose["volumes"]
        assert next(iter(mailboxes)).startswith(mount + "/")


def test_every_service_has_a_healthcheck_and_quizmail_configuration(
    compose: dict[str, Any],
) -> None:
    for service in compose["services"].values():
        assert service["healthcheck"]["test"][0] == "CMD"
        # SSL_CERT_FILE: the trust the client's default TLS context reads (OpenSSL's variable).
        names = set(service["environment"]) - {"SSL_CERT_FILE"}
        assert all(name.startswith("QUIZMAIL_") for name in names)


def test_published_ports_are_loopback_only(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))


def test_a_deliverer_drains_the_web_apps_outbox(compose: dict[str, Any]) -> None:
    web, deliver = compose["services"]["web"], compose["services"]["deliver"]
    assert deliver["command"] == ["quizmail", "deliver"]
    for name in ("QUIZMAIL_VAR_DIR", "QUIZMAIL_SMTP_HOST", "QUIZMAIL_SMTP_PORT", "SSL_CERT_FILE"):
        assert deliver["environment"][name] == web["environment"][name]


def test_the_relay_profile_relays_for_the_quizmail_containers_only(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    relay = services["relay"]
    assert relay["profiles"] == ["relay"]
    assert relay["build"]["dockerfile"] == "Dockerfile.relay"
    networks = relay["environment"]["QUIZMAIL_RELAY_NETWORKS"].split()
    for name in ("web", "deliver"):
        address = services[name]["networks"]["default"]["ipv4_address"]
        assert f"{address}/32" in networks
    assert "172.30.25.1/32" not in networks  # the host's side: refused, "Relay access denied"
    assert relay["environment"]["QUIZMAIL_RELAY_NEXT_HOP"] == f"[capture]:{DEFAULT_PORT}"
    dockerfile = (ROOT / "Dockerfile.relay").read_text()
    assert "smtpd_relay_restrictions=permit_mynetworks, reject_unauth_destination" in dockerfile
