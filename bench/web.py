"""Web benchmark: starting an attempt, its quiz page and submit-and-grade, against a bare route.

Opening a quiz starts an attempt and answers 303 to the attempt's own page (so that Back and
reload show the same attempt): "start" is that redirect, "take" the page it leads to. All are
served the same way (gunicorn, 2 sync workers, loopback, free ports) and loaded the
same way (Debian's ``wrk``, Lua scripts for the cookie and the POST), in one run. The quiz has 20
questions with Markdown and code blocks. The machine is shared, so after a warm-up each target
gets fifteen 1 s rounds, interleaved (bare, start, take, submit, bare, …), and each ratio is the
median of the per-round ratios. Prints requests per second and each ratio to the bare route; the
target is ≥ 0.5×.

Requests look like a browser's: every target gets the session cookie the site sets, and the
submitted form answers all 20 questions (two options on each "select all" question). An attempt
is graded once: wrk sends the same attempt again and again, so after the first request each
submit is answered from the attempt ledger with the first result, re-graded from its token and
rendered with the full review — the page a student gets on a repeated submit.

CSRF is switched off for the benchmark app only, through ``QUIZMAIL_WTF_CSRF_ENABLED=false``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import statistics
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
ROUNDS = 15  # each target gets 15 rounds of 1 s, interleaved: 15 s each in all
ROUND, WARM_UP = "1s", "1s"
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

COOKIE_SCRIPT = """\
wrk.headers["Cookie"] = "{cookie}"
"""
POST_SCRIPT = (
    COOKIE_SCRIPT
    + """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = io.open("{body}"):read("*a")
"""
)


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


def wrk(url: str, script: Path | None, duration: str) -> float:
    command = [str(WRK), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}", url]
    command += ["-s", str(script)] if script else []
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw error responses from {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{output}")
    return float(match.group(1))


def browser_form(take_url: str) -> tuple[str, str, str]:
    """The form a student posts (every question answered), the session cookie a browser holds and
    the address of the attempt's page, where opening the quiz leads.

    Radio questions get their first option as shown, checkbox questions their first two. The
    cookie is the one the results page sets (its "Email my results" form keeps a CSRF token in the
    session): a browser sends it back with every later request, so every target gets it, as wrk
    would otherwise make each submit start a new session that no real student starts.
    """
    with urllib.request.urlopen(take_url, timeout=10) as response:  # follows the 303
        html, attempt_url = response.read().decode(), response.url
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)
    if not attempt:
        raise SystemExit("the take page has no attempt token")
    chosen: dict[str, list[str]] = {}
    for kind, name, value in re.findall(
        r'type="(radio|checkbox)" name="(answer-[\w-]+)" value="([\w-]+)"', html
    ):
        wanted = 2 if kind == "checkbox" else 1
        if len(picked := chosen.setdefault(name, [])) < wanted:
            picked.append(value)
    if len(chosen) != QUESTIONS:
        raise SystemExit(f"the take page shows {len(chosen)} questions, not {QUESTIONS}")
    form = urlencode(
        [("attempt", attempt.group(1)), ("confirm", "1")]
        + [(n, v) for n, vs in chosen.items() for v in vs]
    )
    request = urllib.request.Request(take_url + "/submit", data=form.encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        cookie = (response.headers.get("Set-Cookie") or "").split(";", 1)[0]
    return form, cookie, attempt_url


def measure(workdir: Path) -> dict[str, list[float]]:
    """Requests per second of each target, over interleaved rounds (the machine is shared)."""
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
    with (
        gunicorn("bare:app", workdir, env) as bare,
        gunicorn("app:create_app()", workdir, env) as quizmail,
    ):
        form, cookie, attempt_url = browser_form(quizmail + "/quiz/bench")
        body, get, post = workdir / "submit.txt", workdir / "get.lua", workdir / "submit.lua"
        body.write_text(form)
        get.write_text(COOKIE_SCRIPT.format(cookie=cookie))
        post.write_text(POST_SCRIPT.format(cookie=cookie, body=body))
        targets = {
            "bare": (bare + "/", get),
            "start": (quizmail + "/quiz/bench", get),
            "take": (attempt_url, get),
            "submit": (quizmail + "/quiz/bench/submit", post),
        }
        for url, lua in targets.values():  # warm-up: imports, caches, lazily loaded quizzes
            wrk(url, lua, WARM_UP)
        return _rounds(targets)


def _rounds(targets: dict[str, tuple[str, Path | None]]) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (url, lua) in targets.items():
            rates[name].append(wrk(url, lua, ROUND))
    return rates


LABELS = {"start": "start attempt (303)", "take": "take quiz (20 q)", "submit": "submit and grade"}


def main() -> int:
    if WRK is None:
        print("wrk is not installed (Debian package wrk): benchmark skipped")
        return 0
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="quizmail-bench-") as tmp:
        rates = measure(Path(tmp))
    print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"gunicorn {WORKERS} sync workers each; wrk -t{THREADS} -c{CONNECTIONS}, ", end="")
    print(f"{ROUNDS} interleaved rounds of {ROUND}; medians")
    bare = statistics.median(rates["bare"])
    print(f"{'bare Flask route':<22} {bare:7.0f} req/s")
    labels = {
        "start": "start attempt (303)",
        "take": "take quiz (20 q)",
        "submit": "submit and grade",
    }
    for name, label in labels.items():
        rate = statistics.median(rates[name])
        ratios = [mine / peer for mine, peer in zip(rates[name], rates["bare"], strict=True)]
        ratio = statistics.median(ratios)
        verdict = "meets" if ratio >= TARGET else "below"
        print(f"{label:<22} {rate:7.0f} req/s  ratio {ratio:.2f}x ({verdict} the {TARGET}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
