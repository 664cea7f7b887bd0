"""Messages built per second: app.mail.build_message against the standard library's EmailMessage.

Both build the same results email (text, HTML, a ~2 KB CSV attachment, a non-ASCII subject and
display name) in the same run; the ratio printed is ours over the standard library's.
Run: .venv/bin/python bench/mime.py
"""

from __future__ import annotations

import email
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime, make_msgid

from app.mail import build_message, make_message_id

TARGET_RATIO = 10.0
ROUNDS = 5
ROUND_SECONDS = 0.3

SUBJECT = "Résultats : SMTP et courrier Internet — 8/10 ✅"
STUDENT = ("Zoë Ångström", "zoe@example.org")
SENDER = ("QuizMail", "quizmail@example.org")
WHEN = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)
TEXT = "Bonjour Zoë,\n\nYou scored 8 out of 10 (80 %) and passed.\n\n" + "".join(
    f"{n:2d}. Question {n}: {'correct' if n % 5 else 'wrong — see RFC 5321 §4.5.2'}\n"
    for n in range(1, 11)
)
HTML = (
    "<!doctype html><html><body><h1>Résultats</h1><ol>"
    + "".join(
        f"<li>Question {n}: <strong>{'correct' if n % 5 else 'wrong'}</strong></li>"
        for n in range(1, 11)
    )
    + "</ol><p>Score : 80 %</p></body></html>\n"
)
CSV = "".join(
    f'q{n:02d},single,"Which port does SMTP use? ({n})",25,25,1.0,1.0,true\n' for n in range(32)
).encode()


def ours() -> bytes:
    return build_message(
        sender=SENDER,
        to=STUDENT,
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        attachments=[("results.csv", "text/csv", CSV)],
        date=WHEN,
        message_id=make_message_id("example.org"),
    )


def stdlib() -> bytes:
    message = EmailMessage()
    message["Date"] = format_datetime(WHEN)
    message["From"] = Address(SENDER[0], addr_spec=SENDER[1])
    message["To"] = Address(STUDENT[0], addr_spec=STUDENT[1])
    message["Subject"] = SUBJECT
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    message.add_attachment(CSV, maintype="text", subtype="csv", filename="results.csv")
    return message.as_bytes(policy=SMTP)


def rate(build: Callable[[], bytes]) -> float:
    """Messages per second over one short round."""
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < ROUND_SECONDS:
        build()
        count += 1
    return count / elapsed


def best_rates() -> tuple[float, float]:
    """Best rate of each over rounds that alternate between them, so load hits both alike."""
    ours_best = stdlib_best = 0.0
    for _ in range(ROUNDS):
        ours_best = max(ours_best, rate(ours))
        stdlib_best = max(stdlib_best, rate(stdlib))
    return ours_best, stdlib_best


def same_email() -> bool:
    """Both builders produce the same subject, sender and attachment, as the stdlib reads them."""
    views = []
    for build in (ours, stdlib):
        message = email.message_from_bytes(build(), policy=default)
        files = [part.get_payload(decode=True) for part in message.iter_attachments()]
        views.append((str(message["subject"]), str(message["from"]), files))
    return views[0] == views[1]


def main() -> int:
    assert len(CSV) > 1900, len(CSV)
    assert same_email(), "the two builders disagree on the results email"
    ours_rate, stdlib_rate = best_rates()
    ratio = ours_rate / stdlib_rate
    print(f"message size: ours {len(ours())} bytes, stdlib {len(stdlib())} bytes")
    print(f"app.mail.build_message:            {ours_rate:10.0f} messages/s")
    print(f"email.message.EmailMessage (peer): {stdlib_rate:10.0f} messages/s")
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    print(f"ratio: {ratio:.1f}x the standard library ({verdict} the {TARGET_RATIO:.0f}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
