import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from app import create_app
from app.web.auth import LOGIN_ATTEMPTS, SESSION_KEY, password_matches

from .helpers import PASSWORD, csrf_token, log_in

PLACEHOLDERS = {"message_id": "some-message", "index": 0}


def instructor_rules() -> list[tuple[str, str]]:
    """Every (method, URL) of the instructor blueprint except the login page itself."""
    app = create_app({"TESTING": True, "SECRET_KEY": "collect-only"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("instructor.") and rule.endpoint != "instructor.login":
            found += [(method, build(rule)) for method in sorted(rule.methods & {"GET", "POST"})]
    return found


def build(rule: Rule) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:\w+:)?{name}>", str(PLACEHOLDERS[name]), url)
    return url


@pytest.mark.parametrize(("method", "url"), instructor_rules())
def test_login_required_everywhere(client: FlaskClient, method: str, url: str) -> None:
    data = {"csrf_token": csrf_token(client)} if method == "POST" else None
    response = client.open(url, method=method, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/instructor/login?next=")


def test_every_instructor_page_is_covered() -> None:
    endpoints = {url for _, url in instructor_rules()}
    assert {
        "/instructor/mailbox",
        "/instructor/gradebook",
        "/instructor/mailbox/clear",
    } <= endpoints


def test_no_password_configured_explains_how_to_set_one(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "VAR_DIR": str(tmp_path), "INSTRUCTOR_PASSWORD": None})
    response = app.test_client().get("/instructor/login")
    assert response.status_code == 503
    assert b"QUIZMAIL_INSTRUCTOR_PASSWORD" in response.data


def test_correct_password_logs_in_and_goes_to_the_mailbox(client: FlaskClient) -> None:
    response = log_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/instructor/mailbox"
    with client.session_transaction() as session:
        assert isinstance(session[SESSION_KEY], float)


def test_wrong_password_is_refused(client: FlaskClient) -> None:
    response = log_in(client, password="guess")
    assert response.status_code == 401
    assert b"password is not correct" in response.data
    with client.session_transaction() as session:
        assert SESSION_KEY not in session


def test_numeric_password_from_the_environment_works(tmp_path: Path) -> None:
    # QUIZMAIL_* values are parsed as JSON, so QUIZMAIL_INSTRUCTOR_PASSWORD=12345 arrives as int.
    app = create_app({"TESTING": True, "VAR_DIR": str(tmp_path), "INSTRUCTOR_PASSWORD": 12345})
    assert log_in(app.test_client(), password="12345").status_code == 302


@pytest.mark.parametrize(
    ("given", "expected", "matches"),
    [
        ("secret", "secret", True),
        ("secret", "secreT", False),
        ("", "secret", False),
        ("sé", "sé", True),
    ],
)
def test_password_matches(given: str, expected: str, matches: bool) -> None:
    assert password_matches(given, expected) is matches


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/instructor/gradebook?quiz=smtp", "/instructor/gradebook?quiz=smtp"),
        ("https://evil.example/instructor/", "/instructor/mailbox"),
        ("//evil.example/instructor/", "/instructor/mailbox"),
        ("/\\evil.example/instructor/", "/instructor/mailbox"),
        ("/quiz", "/instructor/mailbox"),
        ("/instructor/gradebook\r\nSet-Cookie: x=1", "/instructor/mailbox"),
        ("/instructor/\x00", "/instructor/mailbox"),
    ],
)
def test_login_returns_only_to_instructor_pages(
    client: FlaskClient, next_url: str, landing: str
) -> None:
    data = {"password": PASSWORD, "csrf_token": csrf_token(client), "next": next_url}
    response = client.post("/instructor/login", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == landing


def test_the_login_page_with_a_line_break_in_next_is_a_page(client: FlaskClient) -> None:
    response = client.get("/instructor/login", query_string={"next": "/instructor/\r\nX: y"})
    assert response.status_code == 200
    assert 'value="/instructor/mailbox"' in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/instructor/login")
    response = client.post("/instructor/login", data={"password": PASSWORD})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert SESSION_KEY not in session


def test_logout_needs_csrf_token(instructor: FlaskClient) -> None:
    assert instructor.post("/instructor/logout").status_code == 400
    with instructor.session_transaction() as session:
        assert SESSION_KEY in session


def test_logout_ends_the_session(instructor: FlaskClient) -> None:
    token = csrf_token(instructor, "/instructor/login")
    response = instructor.post("/instructor/logout", data={"csrf_token": token})
    assert response.headers["Location"] == "/instructor/login"
    assert instructor.get("/instructor/gradebook").status_code == 302


def test_session_expires(app: Flask, instructor: FlaskClient) -> None:
    lifetime = app.config["INSTRUCTOR_SESSION_MINUTES"] * 60
    with instructor.session_transaction() as session:
        session[SESSION_KEY] -= lifetime + 1
    response = instructor.get("/instructor/gradebook", follow_redirects=True)
    assert response.request.path == "/instructor/login"
    assert b"Your session has expired" in response.data
    with instructor.session_transaction() as session:
        assert SESSION_KEY not in session


def test_login_attempts_are_rate_limited_per_address(client: FlaskClient) -> None:
    for _ in range(LOGIN_ATTEMPTS):
        assert log_in(client, password="guess").status_code == 401
    response = log_in(client)  # even the right password waits now
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert b"Too many login attempts" in response.data
    other = client.application.test_client()
    token = csrf_token(other)
    data = {"password": PASSWORD, "csrf_token": token}
    response = other.post("/instructor/login", data=data, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 302


def test_successful_login_forgets_failed_attempts(client: FlaskClient) -> None:
    for _ in range(LOGIN_ATTEMPTS - 1):
        log_in(client, password="guess")
    assert log_in(client).status_code == 302
    for _ in range(LOGIN_ATTEMPTS - 1):
        assert log_in(client, password="guess").status_code == 401


def test_instructor_pages_carry_a_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/instructor/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_login_form_is_labelled(client: FlaskClient) -> None:
    page = client.get("/instructor/login").get_data(as_text=True)
    assert '<label for="password">' in page
    assert 'id="password"' in page
    assert "<h1" in page
