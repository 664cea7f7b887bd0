"""QuizMail: multiple-choice quizzes whose results travel by our own SMTP client."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from app import config

__all__ = ["create_app"]

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application. Nothing is read or started at import time."""
    app = Flask(
        __name__,
        template_folder=str(config.PROJECT_ROOT / "templates"),
        static_folder=str(config.PROJECT_ROOT / "static"),
    )
    config.load(app, test_config)
    csrf.init_app(app)

    from app.web import errors, instructor, quiz, results_email, sessions

    errors.register(app)
    app.register_blueprint(quiz.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(results_email.bp)
    app.register_blueprint(sessions.bp)
    return app
