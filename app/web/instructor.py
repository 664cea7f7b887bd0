"""The instructor's side: captured mailbox and gradebook, behind a login."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
