"""Error pages: every failure a browser sees is a page in plain words, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    message = (
        "This form has expired or did not come from this site."
        " Go back, reload the page and try again."
    )
    return render_template("error.html", code=400, title="Form expired", message=message), 400


def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return (
        render_template("error.html", code=code, title=error.name, message=error.description),
        code,
    )
