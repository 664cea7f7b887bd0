"""Objects made once per app on first use (a notifier, a rate limiter, a ledger), kept in
``app.extensions``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

__all__ = ["per_app"]

_T = TypeVar("_T")
_creating = threading.Lock()


def per_app(key: str, create: Callable[[], _T]) -> _T:
    """One *create()* per app, made on first use; the lock keeps two threads from making two."""
    extensions = current_app.extensions
    if key not in extensions:
        with _creating:
            if key not in extensions:
                extensions[key] = create()
    made: _T = extensions[key]
    return made
