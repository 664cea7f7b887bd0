"""An exam over telnet: N sessions at once each take a 10-question quiz and email their results.

Runs ``quizmail telnet`` with ``quizmail capture`` (and ``quizmail deliver``, as in the demo, so
anything queued is delivered too), then N asyncio clients on raw sockets, all connected at once,
each opening the quiz, answering its ten questions, submitting and typing ``email``. Prints the
p50 and p99 time from sending an answer to the next question's prompt, the same for the email,
how many results emails were captured and whether any was captured twice (by attempt id).

The peer is a bare asyncio line server (``--peer`` runs it) that answers every line with a
question-sized screen and a prompt and does nothing else: the same clients, the same sessions,
measured in the same run, so the ratio says what the quiz itself costs per answer.

Target on a 2-core machine: all N captured, none twice, p99 per answer < 50 ms. Exits 1 only when
a message is lost or duplicated; latency is reported, not enforced (the machine is shared).

    .venv/bin/python bench/telnet.py [--sessions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exam_burst import (
    BIN,
    ROOT,
    STARTUP_SECONDS,
    captured_messages,
    free_port,
    percentile,
    show_outbox,
    start_capture,
    wait_for_capture,
)

QUESTIONS = 10
TARGET_P99_MS = 50.0
PROMPT = b"> "
SCREEN = (b"-" * 72 + b"\r\n" + b"Question n of 10 (one answer)\r\n" + b"x" * 60 + b"\r\n") + (
    b"   a) an option of the question\r\n" * 4
)


def quiz_yaml() -> str:
    """Ten single-answer questions, options shuffled: what a short exam looks like."""
    lines = ["title: Bench exam", "shuffle: {questions: true, options: true}", "questions:"]
    for n in range(QUESTIONS):
        lines += [f"  - id: q{n}", f"    text: Question {n} — which option is right?"]
        lines += ["    options:", '      - {text: "right", correct: true}']
        lines += [f'      - {{text: "wrong {k}"}}' for k in range(3)]
    return "\n".join(lines) + "\n"


# -- the clients ----------------------------------------------------------------------------------


@dataclass
class Session:
    answers_ms: list[float] = field(default_factory=list)
    email_ms: float = 0.0
    error: str | None = None


class Gate:
    """Opens once *count* sessions have arrived (connected and greeted, or failed)."""

    def __init__(self, count: int) -> None:
        self.count, self.opened = count, asyncio.Event()

    def arrive(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.opened.set()


async def take_quiz(port: int, number: int, gate: Gate, *, email: bool) -> Session:
    """One student: open quiz 1, answer every question, submit, email the results, quit."""
    session = Session()
    arrived = False
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        await until(reader, PROMPT)  # the welcome and the list
        gate.arrive()
        arrived = True
        await gate.opened.wait()  # every session connected: now all at once
        writer.write(b"1\r\n")
        await until(reader, PROMPT)
        for answer in range(QUESTIONS):
            began = time.perf_counter()
            writer.write(b"abcd"[answer % 4 : answer % 4 + 1] + b"\r\n")
            await until(reader, PROMPT)
            session.answers_ms.append((time.perf_counter() - began) * 1000)
        if email:
            writer.write(b"submit\r\n")
            await until(reader, b"results> ")
            began = time.perf_counter()
            writer.write(f"email student{number}@example.org Student {number}\r\n".encode())
            reply = await until(reader, b"results> ")
            session.email_ms = (time.perf_counter() - began) * 1000
            if b"handed to the mail server" not in reply and b"waiting to be sent" not in reply:
                session.error = reply.decode(errors="replace")[-300:]
        writer.write(b"quit\r\n")
        await reader.read()
        writer.close()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        session.error = repr(exc)
        if not arrived:
            gate.arrive()
    return session


async def until(reader: asyncio.StreamReader, ending: bytes) -> bytes:
    return await reader.readuntil(ending)


async def exam(port: int, sessions: int, *, email: bool) -> list[Session]:
    gate = Gate(sessions)
    return await asyncio.gather(*(take_quiz(port, n, gate, email=email) for n in range(sessions)))


# -- the peer: a bare line server -----------------------------------------------------------------


async def serve_peer(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Welcome\r\nquiz> ")
        while line := await reader.readline():
            if line.strip() == b"quit":
                break
            writer.write(SCREEN + b"answer> ")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# -- the run --------------------------------------------------------------------------------------


def start_telnet(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(BIN / "quizmail"), "telnet", f"--port={port}"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def environment(work: Path, smtp_port: int) -> dict[str, str]:
    questions = work / "questions"
    questions.mkdir()
    (questions / "exam.yaml").write_text(quiz_yaml())
    return {
        **os.environ,
        "QUIZMAIL_VAR_DIR": str(work / "var"),
        "QUIZMAIL_QUESTIONS_DIR": str(questions),
        "QUIZMAIL_SMTP_PORT": str(smtp_port),
        "QUIZMAIL_SECRET_KEY": secrets.token_urlsafe(32),
        # Every session comes from 127.0.0.1 here; the per-client limit is for the open internet.
        "QUIZMAIL_EMAILS_PER_CLIENT_PER_HOUR": "100000",
    }


def report(ours: list[Session], peer: list[Session], attempt_ids: list[str], n: int) -> bool:
    answers = [ms for s in ours for ms in s.answers_ms]
    peer_answers = [ms for s in peer for ms in s.answers_ms]
    errors = [s.error for s in ours + peer if s.error]
    p50, p99 = percentile(answers, 0.5), percentile(answers, 0.99)
    peer_p50, peer_p99 = percentile(peer_answers, 0.5), percentile(peer_answers, 0.99)
    emails = [s.email_ms for s in ours if not s.error]
    duplicated = sum(count - 1 for count in Counter(attempt_ids).values() if count > 1)
    print(f"sessions: {n} at once, {QUESTIONS} answers each; errors: {len(errors)}")
    for error in errors[:3]:
        print(f"  {error}")
    print(f"quizmail telnet  per answer p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    print(f"bare line server per answer p50 {peer_p50:6.1f} ms   p99 {peer_p99:6.1f} ms   (peer)")
    print(f"ratio quizmail/peer: p50 {p50 / peer_p50:.2f}x, p99 {p99 / peer_p99:.2f}x")
    if emails:
        e50, e99 = percentile(emails, 0.5), percentile(emails, 0.99)
        print(f"email            p50 {e50:6.1f} ms   p99 {e99:6.1f} ms")
    print(f"captured: {len(attempt_ids)} of {n}; duplicated: {duplicated}")
    met = "met" if p99 < TARGET_P99_MS else "MISSED"
    print(f"p99 per answer target < {TARGET_P99_MS:.0f} ms {met}")
    return len(set(attempt_ids)) == n and duplicated == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--peer", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        asyncio.run(serve_peer(args.peer))
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-telnet-"))
    smtp_port, telnet_port, peer_port = free_port(), free_port(), free_port()
    env = environment(work, smtp_port)
    with contextlib.ExitStack() as running:
        running.callback(shutil.rmtree, work, ignore_errors=True)
        for process in (
            start_capture(smtp_port, work / "mailbox", env),
            start_telnet(telnet_port, env),
            subprocess.Popen([str(BIN / "quizmail"), "deliver"], cwd=ROOT, env=env),
            subprocess.Popen([sys.executable, __file__, f"--peer={peer_port}"]),
        ):
            running.callback(process.wait, 30)
            running.callback(process.terminate)
        wait_for_port(telnet_port)
        wait_for_port(peer_port)
        peer_sessions = asyncio.run(exam(peer_port, args.sessions, email=False))
        ours = asyncio.run(exam(telnet_port, args.sessions, email=True))
        wait_for_capture(work / "mailbox", args.sessions)
        ok = report(ours, peer_sessions, attempt_ids(work / "mailbox"), args.sessions)
        show_outbox(work / "var" / "outbox")
    return 0 if ok else 1


def attempt_ids(mailbox: Path) -> list[str]:
    """The attempt id of every results email captured."""
    return [
        json.loads(part.get_content())["attempt_id"]
        for message in captured_messages(mailbox)
        for part in message.iter_attachments()
        if part.get_filename() == "results.json"
    ]


if __name__ == "__main__":
    sys.exit(main())
