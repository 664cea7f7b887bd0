"""Benchmark: the instructor's mailbox with 10,000 captured messages against the same with 10.

The mailbox list page and a search must read the store's index, not every message file, so a
request should cost about the same whatever the store holds. Each page is requested many times
through the Flask test client against both stores, built once under a temporary directory for
this run; the script prints the ratio large / small per page and exits 0.

    .venv/bin/python bench/mailbox.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from unittest import mock

from flask.testing import FlaskClient

from app import create_app
from app.mailstore import MailStore
from app.web.auth import SESSION_KEY

LARGE = 10_000
SMALL = 10
STUDENTS = 50  # recipient mailboxes, as in a class
REQUESTS = 150  # per page and store, after WARMUP
WARMUP = 10
TARGET_RATIO = 2.0  # issue 7: the list and search cost at most twice as much with 10,000 messages
PAGES = {
    "list page": "/instructor/mailbox",
    "search": "/instructor/mailbox?q=needle",
}


def sample_message(n: int, count: int) -> tuple[str, bytes]:
    """Message *n* of *count*: to one of STUDENTS; SMALL of them contain the search word, so a
    search renders the same rows from either store."""
    recipient = f"student{n % STUDENTS}@example.org"
    message = EmailMessage()
    message["From"] = "QuizMail <quizmail@example.org>"
    message["To"] = recipient
    message["Subject"] = f"Your results: quiz {n % 7}"
    message["Date"] = format_datetime(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n))
    message["Message-ID"] = f"<bench-{n}@example.org>"
    word = "needle" if n % (count // SMALL) == 0 else "hay"
    message.set_content(f"Attempt {n}: 8 of 10 points. {word}\n" + "Question feedback.\n" * 20)
    return recipient, message.as_bytes()


def build_store(root: Path, count: int) -> None:
    """Deliver *count* messages. A benchmark's store needs no crash safety: fsync is skipped."""
    store = MailStore(root)
    with mock.patch("os.fsync"):
        for n in range(count):
            recipient, raw = sample_message(n, count)
            store.deliver([recipient], raw)


def logged_in_client(root: Path, var: Path) -> FlaskClient:
    app = create_app(
        {"MAILBOX_DIR": str(root), "VAR_DIR": str(var), "INSTRUCTOR_PASSWORD": "bench"}
    )
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = time.time()
    return client


def seconds_per_request(client: FlaskClient, url: str) -> float:
    """The median time of one request (the median shrugs off other load on a shared machine)."""
    timings = []
    for i in range(WARMUP + REQUESTS):
        start = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        if i >= WARMUP:
            timings.append(elapsed)
    return statistics.median(timings)


@contextmanager
def stores() -> Iterator[dict[int, FlaskClient]]:
    with tempfile.TemporaryDirectory(prefix="quizmail-bench-") as tmp:
        clients = {}
        for count in (SMALL, LARGE):
            start = time.perf_counter()
            build_store(Path(tmp, f"mail-{count}"), count)
            print(f"built a store of {count} messages in {time.perf_counter() - start:.1f} s")
            clients[count] = logged_in_client(Path(tmp, f"mail-{count}"), Path(tmp, "var"))
        yield clients


def main() -> int:
    with stores() as clients:
        for name, url in PAGES.items():
            small = seconds_per_request(clients[SMALL], url)
            large = seconds_per_request(clients[LARGE], url)
            ratio = large / small
            verdict = "within" if ratio <= TARGET_RATIO else "OVER"
            print(
                f"{name}: {large * 1000:.2f} ms with {LARGE} messages, {small * 1000:.2f} ms with"
                f" {SMALL}: ratio {ratio:.2f}× ({verdict} the {TARGET_RATIO:g}× target)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
