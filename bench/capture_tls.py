"""Messages per second into our capture server with STARTTLS and AUTH on every session, as a ratio
to plain sessions into the same server in the same run (target: ≥ 0.5).

One capture server listens on a plain port and on a submission port (STARTTLS, then AUTH PLAIN
against a users file whose password is hashed at the default scrypt cost). The same number of
``smtplib`` client processes feed each in turn, one session each, several messages per session
(default 20 sessions × 100 messages); the two alternate over several rounds so that load from
others on a shared machine hits both alike. Every message is stored and fsynced before its 250
either way, so the ratio shows what TLS and the login add to a session: the handshake, the
password check and the encryption of each message. Prints the median rates, the median of the
rounds' ratios and the load average; exits 1 if a message went missing.
"""

from __future__ import annotations

import argparse
import smtplib
import ssl
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from capture import PAYLOAD_BYTES, RECIPIENT, feed_with_smtplib, free_port, load_average, rate

from app.capture import CaptureServer
from app.capture.auth import Logins
from app.capture.tls import LocalCA
from app.pop3.users import Users, hash_password

TARGET_RATIO = 0.5
USER, PASSWORD = "bench@example.org", "bench password"


def _tls_client(port: int, messages: int, ca_file: str) -> None:
    body = "Subject: bench\r\n\r\n" + ("x" * 78 + "\r\n") * (PAYLOAD_BYTES // 80)
    context = ssl.create_default_context(cafile=ca_file)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=60) as smtp:
        smtp.starttls(context=context)
        smtp.login(USER, PASSWORD)
        for _ in range(messages):
            smtp.sendmail("bench@example.org", [RECIPIENT], body)


def feed_with_tls(ca_file: str) -> object:
    """A feeder as bench/capture.py's, whose sessions each start TLS and log in first."""

    def feed(port: int, messages: int, sessions: int) -> None:
        with ProcessPoolExecutor(sessions) as pool:
            shares = [messages // sessions + (i < messages % sessions) for i in range(sessions)]
            for future in [pool.submit(_tls_client, port, share, ca_file) for share in shares]:
                future.result()

    return feed


def measure(
    secure: bool, *, ca: LocalCA, users: Users, messages: int, sessions: int, tmp: Path
) -> float:
    mailbox = tmp / ("tls" if secure else "plain")
    server = CaptureServer(
        mailbox, "127.0.0.1", free_port(), hostname="bench.test", tls=ca.server_context(),
        offer_starttls=False, submission_port=free_port(), logins=Logins(users),
    )  # fmt: skip
    feed = feed_with_tls(str(ca.ca_cert)) if secure else feed_with_smtplib
    with server:
        port = server.submission_port if secure else server.port
        assert port is not None
        result = rate(feed, port, messages, sessions)  # type: ignore[arg-type]
        stored = server.store.count(to=RECIPIENT)  # every 250 was on disk: all are there
    if stored != messages:
        sys.exit(f"capture stored {stored} of {messages} messages ({'TLS' if secure else 'plain'})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--per-session", type=int, default=100, help="messages per session")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()),
        help="where to make the temporary mail directories (default: the system's temporary one)",
    )  # fmt: skip
    args = parser.parse_args()
    messages = args.sessions * args.per_session
    print(f"{args.sessions} sessions × {args.per_session} messages of ~{PAYLOAD_BYTES} bytes"
          f" (smtplib clients), {args.rounds} rounds, mail under {args.dir};"
          f" load average {load_average()}")  # fmt: skip
    users = Users({}).with_account(USER, hash_password(PASSWORD))
    plain, secure = [], []
    with tempfile.TemporaryDirectory(prefix="quizmail-bench-", dir=args.dir) as tmp:
        ca = LocalCA(Path(tmp) / "tls").ensure(["127.0.0.1"])
        for n in range(args.rounds):
            with tempfile.TemporaryDirectory(dir=tmp) as round_dir:
                for secure_round, rates in ((False, plain), (True, secure)):
                    rates.append(
                        measure(
                            secure_round, ca=ca, users=users, messages=messages,
                            sessions=args.sessions, tmp=Path(round_dir),
                        )
                    )  # fmt: skip
            print(f"round {n + 1}: plain {plain[-1]:.0f}/s, STARTTLS+AUTH {secure[-1]:.0f}/s,"
                  f" ratio {secure[-1] / plain[-1]:.2f}")  # fmt: skip
    ratio = statistics.median(s / p for s, p in zip(secure, plain, strict=True))
    print(f"plain sessions:         {statistics.median(plain):8.0f} messages/s")
    print(f"STARTTLS+AUTH sessions: {statistics.median(secure):8.0f} messages/s")
    print(f"ratio TLS+AUTH/plain:   {ratio:8.2f} (median of rounds; target >= {TARGET_RATIO})")
    print(f"load average:           {load_average()}")


if __name__ == "__main__":
    main()
