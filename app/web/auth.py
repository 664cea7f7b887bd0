"""Instructor login: one shared password, sessions that expire, rate-limited attempts.

``register(bp)`` adds ``/login`` and ``/logout`` to the instructor blueprint and guards every
other view of it, so no page can be added there without the login in front of it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from app.ratelimit import RateLimiter

#: Login attempts allowed per client address and window: enough for typing mistakes, far too few
#: to guess a password (OWASP's authentication cheat sheet suggests limits of this order).
LOGIN_ATTEMPTS = 10
LOGIN_WINDOW_SECONDS = 15 * 60
SESSION_KEY = "instructor_login_at"  # when the instructor logged in, in wall-clock seconds
LOGIN_ENDPOINT = "instructor.login"
RATE_LIMIT_DB = "ratelimit.sqlite3"  # inside VAR_DIR, shared by every worker


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])
    bp.before_request(require_login)
    bp.context_processor(lambda: {"instructor_logged_in": SESSION_KEY in session})


def require_login() -> ResponseReturnValue | None:
    """Let a logged-in instructor through; send everyone else to the login page."""
    if request.endpoint == LOGIN_ENDPOINT:
        return None
    login_at = session.get(SESSION_KEY)
    if isinstance(login_at, float) and not _expired(login_at):
        return None
    if login_at is not None:
        session.pop(SESSION_KEY, None)
        flash("Your session has expired. Log in again to continue.", "error")
    return redirect(url_for(LOGIN_ENDPOINT, next=request.full_path))


def login() -> ResponseReturnValue:
    password = current_app.config.get("INSTRUCTOR_PASSWORD")
    if not password:
        return render_template("instructor/no_password.html"), 503
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("instructor/login.html", next=target)
    wait = _limiter().hit(_client_key(), LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS)
    if wait is not None:
        return _too_many_attempts(wait, target)
    if not password_matches(request.form.get("password", ""), str(password)):
        error = "That password is not correct. Check it and try again."
        return render_template("instructor/login.html", next=target, error=error), 401
    _limiter().reset(_client_key())
    session.clear()
    session[SESSION_KEY] = time.time()
    return redirect(target)


def logout() -> ResponseReturnValue:
    session.pop(SESSION_KEY, None)
    flash("You have logged out.", "info")
    return redirect(url_for(LOGIN_ENDPOINT))


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison; hashing first hides the expected length as well."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(expected.encode()).digest())


def _expired(login_at: float) -> bool:
    lifetime = float(current_app.config["INSTRUCTOR_SESSION_MINUTES"]) * 60
    return not 0 <= time.time() - login_at <= lifetime


def _safe_next(target: str | None) -> str:
    """Only a path inside the instructor pages: never an open redirect to another site."""
    default = url_for("instructor.mailbox")
    if not target:
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default  # CR/LF would be a header injection (Werkzeug refuses it: a 500)
    parts = urlsplit(target)
    inside = parts.path.startswith("/instructor/") and "\\" not in target
    return target if inside and not parts.scheme and not parts.netloc else default


def _too_many_attempts(wait: float, target: str) -> ResponseReturnValue:
    minutes = math.ceil(wait / 60)
    error = (
        f"Too many login attempts from your address. Wait {minutes} minute"
        f"{'s' if minutes != 1 else ''}, then try again."
    )
    page = render_template("instructor/login.html", next=target, error=error)
    return page, 429, {"Retry-After": str(math.ceil(wait))}


def _client_key() -> str:
    # Behind a reverse proxy, remote_addr is the proxy's: wrap the app in werkzeug's ProxyFix
    # there, or every client shares one limit.
    return f"instructor-login:{request.remote_addr or 'unknown'}"


def _limiter() -> RateLimiter:
    limiter = current_app.extensions.get("quizmail.login_limiter")
    if limiter is None:
        limiter = RateLimiter(Path(current_app.config["VAR_DIR"]) / RATE_LIMIT_DB)
        current_app.extensions["quizmail.login_limiter"] = limiter
    return limiter
