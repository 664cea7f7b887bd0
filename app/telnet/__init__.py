"""Take a quiz over telnet, nc or socat: the web's twin on a line-based connection.

The same quizzes, attempts, grading, time limits and results email as the web (``app.quiz``,
``app.quiz.attempts``, ``app.results_mail``); only the words on the screen are this package's.
``wire`` turns bytes into lines (RFC 854), ``dialogue`` turns lines into what to say and do,
``server`` drives both over asyncio; ``quizmail telnet`` runs it (docs/telnet.md).
"""

from app.telnet.dialogue import CheckEmail, Dialogue, Say, SendEmail
from app.telnet.server import (
    DEFAULT_TELNET_PORT,
    IDLE_TIMEOUT,
    TelnetController,
    TelnetQuizServer,
    telnet_server,
)
from app.telnet.wire import MAX_LINE_BYTES, LineReader

__all__ = [
    "DEFAULT_TELNET_PORT",
    "IDLE_TIMEOUT",
    "MAX_LINE_BYTES",
    "CheckEmail",
    "Dialogue",
    "LineReader",
    "Say",
    "SendEmail",
    "TelnetController",
    "TelnetQuizServer",
    "telnet_server",
]
