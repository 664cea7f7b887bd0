"""The capture server: an aiosmtpd SMTP server that stores, never relays, every message.

``CaptureServer`` runs it; ``CaptureHandler`` holds the hooks; ``RecipientPolicy`` decides which
recipients are accepted. Storage is ``app.store.MailStore``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.capture.handler import LOCAL_ERROR, CaptureHandler, RecipientPolicy
    from app.capture.server import DEFAULT_HOST, DEFAULT_MAX_SIZE, DEFAULT_PORT, CaptureServer

#: Where each public name lives: imported on first use, so that the ``quizmail`` command's
#: options (app.capture.cli) load without aiosmtpd.
_HOMES = {
    "LOCAL_ERROR": "handler",
    "CaptureHandler": "handler",
    "RecipientPolicy": "handler",
    "DEFAULT_HOST": "server",
    "DEFAULT_MAX_SIZE": "server",
    "DEFAULT_PORT": "server",
    "CaptureServer": "server",
}

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_PORT",
    "LOCAL_ERROR",
    "CaptureHandler",
    "CaptureServer",
    "RecipientPolicy",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"app.capture.{_HOMES[name]}"), name)
