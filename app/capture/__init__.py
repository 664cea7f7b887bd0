"""The capture server: an aiosmtpd SMTP server that stores, never relays, every message.

``CaptureServer`` runs it; ``CaptureHandler`` holds the hooks; ``RecipientPolicy`` decides which
recipients are accepted. Storage is ``app.store.MailStore``.
"""

from app.capture.handler import LOCAL_ERROR, CaptureHandler, RecipientPolicy
from app.capture.server import DEFAULT_HOST, DEFAULT_MAX_SIZE, DEFAULT_PORT, CaptureServer

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_PORT",
    "LOCAL_ERROR",
    "CaptureHandler",
    "CaptureServer",
    "RecipientPolicy",
]
