"""Web benchmark: the take-quiz page and submit-and-grade, each against a bare Flask route.

All three are served the same way (gunicorn, 2 sync workers, loopback, free ports) and loaded the
same way (Debian's ``wrk``, a fixed duration each, a Lua script for the POST), in one run. The
quiz has 20 questions with Markdown and code blocks. The bare route is measured before and after
the quiz pages and averaged, because the machine is shared. Prints requests per second and each
ratio to the bare route; the target is at least 0.5×.

CSRF is switched off for the benchmark app only, through ``QUIZMAIL_WTF_CSRF_ENABLED=false``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
WRK = shutil.which("wrk")
DURATION = "5s"
THREADS, CONNECTIONS = 2, 8
WORKERS = 2
QUESTIONS = 20
START_TIMEOUT = 30.0  # seconds for gunicorn to answer its first request
TARGET = 0.5

BARE_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
"""

POST_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = io.open("{body}"):read("*a")
"""


def bench_quiz() -> str:
    """A 20-question quiz: every type, Markdown in text and options, a code block each."""
    lines = ["title: Benchmark", "shuffle: {questions: true, options: true}", "questions:"]
    for n in range(QUESTIONS):
        kind = ("single", "multiple", "true_false")[n % 3]
        lines += [f"  - id: q{n}", f"    type: {kind}", "    text: |"]
        lines += [f"      Question **{n}**: what does `CMD{n}` do?", "", "      ```"]
        lines += [f"      C: CMD{n} <a@example.org>", "      S: 250 OK", "      ```"]
        lines += ["    explanation: See *RFC 5321* §4.1."]
        if kind == "true_false":
            lines += ["    answer: true"]
            continue
        lines += ["    options:"]
        for o in range(4):
            correct = "true" if o == 0 or (kind == "multiple" and o == 1) else "false"
            text = f"Option *{o}* with `code {o}`"
            lines += [f'      - {{text: "{text}", correct: {correct}, feedback: "Because {o}."}}']
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(target: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [str(GUNICORN), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", target]
    command += ["--chdir", str(workdir), "--log-level", "warning"]
    server = subprocess.Popen(command, env={**os.environ, **env})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {url} within {START_TIMEOUT:.0f} s")


def wrk(url: str, script: Path | None = None) -> float:
    command = [str(WRK), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", url]
    command += ["-s", str(script)] if script else []
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw error responses from {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{output}")
    return float(match.group(1))


def submit_body(take_url: str) -> str:
    """A form that answers every question, as a browser would post it."""
    html = urllib.request.urlopen(take_url, timeout=10).read().decode()
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)
    if not attempt:
        raise SystemExit("the take page has no attempt token")
    answers = re.findall(r'name="(answer-[\w-]+)" value="([\w-]+)"', html)
    chosen = dict(answers)  # the last option of each question
    return urlencode([("attempt", attempt.group(1)), *chosen.items()])


def measure(workdir: Path) -> dict[str, float]:
    (workdir / "bare.py").write_text(BARE_APP)
    questions = workdir / "questions"
    questions.mkdir()
    (questions / "bench.yaml").write_text(bench_quiz())
    env = {
        "QUIZMAIL_QUESTIONS_DIR": str(questions),
        "QUIZMAIL_VAR_DIR": str(workdir / "var"),
        "QUIZMAIL_WTF_CSRF_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    rates: dict[str, float] = {}
    with gunicorn("bare:app", workdir, env) as bare:
        rates["bare before"] = wrk(bare + "/")
    with gunicorn("app:create_app()", workdir, env) as quizmail:
        rates["take"] = wrk(quizmail + "/quiz/bench")
        body = workdir / "submit.txt"
        body.write_text(submit_body(quizmail + "/quiz/bench"))
        script = workdir / "submit.lua"
        script.write_text(POST_SCRIPT.format(body=body))
        rates["submit"] = wrk(quizmail + "/quiz/bench/submit", script)
    with gunicorn("bare:app", workdir, env) as bare:
        rates["bare after"] = wrk(bare + "/")
    return rates


def main() -> int:
    if WRK is None:
        print("wrk is not installed (Debian package wrk): benchmark skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="quizmail-bench-") as tmp:
        rates = measure(Path(tmp))
    bare = (rates["bare before"] + rates["bare after"]) / 2
    print(f"gunicorn {WORKERS} workers, wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} each")
    print(
        f"bare Flask route       {bare:9.0f} req/s (before {rates['bare before']:.0f}, "
        f"after {rates['bare after']:.0f})"
    )
    for name, label in (("take", "take quiz (20 q)"), ("submit", "submit and grade")):
        ratio = rates[name] / bare
        verdict = "meets" if ratio >= TARGET else "below"
        print(f"{label:<22} {rates[name]:9.0f} req/s  ratio {ratio:.2f}x ({verdict} {TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
