"""The student's side: quiz list, taking a quiz, results."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("quiz", __name__)
