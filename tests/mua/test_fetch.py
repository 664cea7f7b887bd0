"""``quizmail fetch`` and :func:`app.mua.fetch`: into a Maildir or an mbox, resumed by UIDL,
optionally deleting; from our server and from Dovecot; a broken server leaves the local store
as it was, holding only whole messages."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pop3client.hostile import HostileServer, scripted
from private_dovecot import PrivateDovecot, missing_reason

from app.mua import Maildir, Mbox, SeenLog, fetch
from app.pop3client import POP3Client, POP3Error

from .conftest import ADA, PASSWORD, MailServers, quizmail

FROM_LINE_BODY = "From the start, a line that mbox must quote.\n>From quoted already.\n"


def run_fetch(servers: MailServers, *args: str) -> tuple[int, str, str]:
    done = quizmail(
        "fetch",
        "--server",
        servers.pop3_address,
        "--user",
        ADA,
        "--password-env",
        "PW",
        *args,
        env={"PW": PASSWORD},
    )
    return done.returncode, done.stdout, done.stderr


def log_in_and_fetch(pop: POP3Client, local: Maildir, seen: SeenLog) -> None:
    pop.connect()
    pop.login("ada", "pw", apop=False)
    fetch(pop, local, seen, delete=True)


def subjects_in_maildir(path: Path) -> list[str]:
    return sorted(str(m["Subject"]) for m in mailbox.Maildir(path, create=False))


def test_fetch_into_a_maildir_resumes_by_uidl(servers: MailServers, tmp_path: Path) -> None:
    servers.deliver("one")
    servers.deliver("two")
    status, out, err = run_fetch(servers, "--maildir", str(tmp_path / "inbox"))
    assert (status, err) == (0, "")
    assert f"2 new messages into {tmp_path / 'inbox'}." in out
    servers.deliver("three")
    status, out, _ = run_fetch(servers, "--maildir", str(tmp_path / "inbox"))
    assert "1 new message into" in out
    assert "2 fetched before" in out
    assert subjects_in_maildir(tmp_path / "inbox") == ["one", "three", "two"]
    assert servers.count() == 3  # nothing deleted without --delete
    assert (tmp_path / "inbox.uidls").exists()


def test_fetch_with_delete_empties_the_server(servers: MailServers, tmp_path: Path) -> None:
    servers.deliver("one")
    servers.deliver("two")
    run_fetch(servers, "--maildir", str(tmp_path / "inbox"))
    _, out, _ = run_fetch(servers, "--maildir", str(tmp_path / "inbox"), "--delete")
    assert "0 new messages" in out
    assert "2 deleted on the server" in out
    assert servers.count() == 0
    assert len(subjects_in_maildir(tmp_path / "inbox")) == 2


def test_fetch_into_an_mbox_quotes_from_lines(servers: MailServers, tmp_path: Path) -> None:
    servers.deliver("mboxed", FROM_LINE_BODY)
    servers.deliver("second")
    status, _, err = run_fetch(servers, "--mbox", str(tmp_path / "mail.mbox"))
    assert status == 0, err
    box = mailbox.mbox(tmp_path / "mail.mbox", create=False)
    messages = sorted(box, key=lambda m: str(m["Subject"]))
    box.close()
    assert [str(m["Subject"]) for m in messages] == ["mboxed", "second"]
    raw = (tmp_path / "mail.mbox").read_bytes()
    assert b"\n>From the start" in raw
    assert b"\n>>From quoted already" in raw
    assert b"\r\n" not in raw


def test_bad_options_are_one_line(servers: MailServers, tmp_path: Path) -> None:
    status, _, err = run_fetch(servers)
    assert status == 2
    assert err == "quizmail: give --maildir DIR or --mbox FILE (one of them)\n"
    done = quizmail(
        "fetch",
        "--maildir",
        str(tmp_path / "x"),
        "--server",
        servers.pop3_address,
        "--user",
        ADA,
        "--password-env",
        "PW",
        env={"PW": "wrong"},
    )
    assert done.returncode == 2
    assert "refused: the server answered -ERR [AUTH]" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "answer",
    [
        scripted(
            {
                b"UIDL": b"+OK\r\n1 a\r\n2 b\r\n.\r\n",
                b"LIST": b"+OK\r\n1 10\r\n2 10\r\n.\r\n",
                b"RETR": b"+OK\r\nSubject: half\r\n\r\n" + b"y" * (10 * 1024 * 1024),
            }
        ),
        scripted(
            {
                b"UIDL": b"+OK\r\n1 a\r\n.\r\n",
                b"LIST": b"+OK\r\n1 10\r\n.\r\n",
                b"RETR": b"+OK\r\nSubject: cut\r\n\r\nthe first half\r\n",
            }
        ),  # never ends
        scripted(
            {b"UIDL": b"+OK\r\n1 a\r\n.\r\n", b"LIST": b"+OK\r\n1 10\r\n.\r\n", b"RETR": None}
        ),
        lambda line: b"+OK\r\n",
        scripted({b"UIDL": b"+OK\r\n\x00junk\r\n.\r\n", b"LIST": b"+OK\r\n1 10\r\n.\r\n"}),
    ],
    ids=["10 MB line", "never ends", "closes mid-RETR", "+OK to everything", "junk"],
)
def test_a_broken_server_leaves_the_maildir_unharmed(answer: object, tmp_path: Path) -> None:
    local = Maildir(tmp_path / "inbox")
    (tmp_path / "inbox" / "cur" / "1.kept:2,S").write_bytes(b"Subject: kept\n\nmine\n")
    seen = SeenLog(tmp_path / "inbox.uidls", "ada@test")
    with HostileServer(answer) as server:  # type: ignore[arg-type]
        pop = POP3Client("127.0.0.1", server.port, timeout=0.5)
        with pytest.raises(POP3Error) as failed:
            log_in_and_fetch(pop, local, seen)
        pop.close()
    assert "\n" not in str(failed.value)
    assert subjects_in_maildir(tmp_path / "inbox") == ["kept"]
    assert not list((tmp_path / "inbox" / "tmp").iterdir())


def test_a_server_closing_after_some_messages_keeps_those_whole(tmp_path: Path) -> None:
    answers = iter([b"+OK\r\nSubject: first\r\n\r\nwhole\r\n.\r\n", None])

    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RETR"):
            return next(answers)
        table = {b"UIDL": b"+OK\r\n1 a\r\n2 b\r\n.\r\n", b"LIST": b"+OK\r\n1 10\r\n2 10\r\n.\r\n"}
        return scripted(table)(line)

    local, seen = Maildir(tmp_path / "inbox"), SeenLog(tmp_path / "u", "ada@test")
    with HostileServer(answer) as server:
        pop = POP3Client("127.0.0.1", server.port, timeout=5)
        pop.connect()
        pop.login("ada", "pw", apop=False)
        with pytest.raises(POP3Error):
            fetch(pop, local, seen)
        pop.close()
    assert subjects_in_maildir(tmp_path / "inbox") == ["first"]
    seen.close()
    again = SeenLog(tmp_path / "u", "ada@test")
    assert "a" in again  # the next run resumes after it
    assert "b" not in again


def test_a_mbox_write_that_fails_is_cut_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Mbox(tmp_path / "mbox")
    box.add(b"Subject: one\r\n\r\nfine\r\n")
    size = (tmp_path / "mbox").stat().st_size

    def short_write(fd: int, data: bytes) -> int:
        import os as real_os

        return real_os.pwrite(fd, data[:10], real_os.fstat(fd).st_size)

    monkeypatch.setattr("app.mua.local.os.write", short_write)
    with pytest.raises(OSError, match="only 10 of"):
        box.add(b"Subject: two\r\n\r\ncut\r\n")
    box.close()
    assert (tmp_path / "mbox").stat().st_size == size


def test_the_seen_log_ignores_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    (tmp_path / "u").write_bytes(b"ada@x\tone\nbob@x\tother\nada@x\ttw")
    seen = SeenLog(tmp_path / "u", "ada@x")
    assert seen.seen == {"one"}
    seen.keep_only(["one"])
    seen.close()
    assert (tmp_path / "u").read_bytes() == b"bob@x\tother\nada@x\tone\n"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[PrivateDovecot]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with PrivateDovecot({"ada": "ada-pw"}) as server:
        yield server


def test_fetch_from_dovecot(dovecot: PrivateDovecot, tmp_path: Path) -> None:
    for n in range(5):
        dovecot.deliver("ada", b"Subject: dove %d\r\n\r\n.a dot\r\nFrom here\r\n" % n)
    args = [
        "fetch",
        "--server",
        f"127.0.0.1:{dovecot.port}",
        "--user",
        "ada",
        "--password-env",
        "PW",
    ]
    done = quizmail(*args, "--mbox", str(tmp_path / "mbox"), env={"PW": "ada-pw"})
    assert "5 new messages" in done.stdout, done.stderr
    done = quizmail(*args, "--mbox", str(tmp_path / "mbox"), "--delete", env={"PW": "ada-pw"})
    assert "0 new messages" in done.stdout
    assert "5 deleted on the server" in done.stdout
    box = mailbox.mbox(tmp_path / "mbox", create=False)
    assert sorted(str(m["Subject"]) for m in box) == [f"dove {n}" for n in range(5)]
    box.close()
    assert (tmp_path / "mbox").read_bytes().count(b"\n\n.a dot\n>From here\n") == 5  # unstuffed
    assert not list(dovecot.maildir("ada").joinpath("cur").iterdir())


def test_fetch_over_implicit_tls_and_stls_from_dovecot(tmp_path: Path) -> None:
    if missing_reason() is not None:
        pytest.skip(missing_reason() or "")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(cafile))
    with PrivateDovecot({"ada": "ada-pw"}, cert=cert, key=key) as server:
        server.deliver("ada", b"Subject: over TLS\r\n\r\nsecret\r\n")
        for security, port in (("tls", server.tls_port), ("stls", server.port)):
            args = ["fetch", "--server", f"127.0.0.1:{port}", "--security", security]
            args += ["--cafile", str(cafile), "--user", "ada", "--password-env", "PW", "-v"]
            done = quizmail(*args, "--maildir", str(tmp_path / security), env={"PW": "ada-pw"})
            assert "1 new message" in done.stdout, done.stderr
            assert "C: PASS <password>" in done.stderr  # inside TLS: no need for APOP
        wrong = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(wrong))
        args = ["fetch", "--server", f"127.0.0.1:{server.tls_port}", "--security", "tls"]
        done = quizmail(
            *args,
            "--cafile",
            str(wrong),
            "--user",
            "ada",
            "--password-env",
            "PW",
            "--maildir",
            str(tmp_path / "never"),
            env={"PW": "ada-pw"},
        )
        assert done.returncode == 2
        assert "certificate verify failed" in done.stderr
        assert not list((tmp_path / "never" / "new").iterdir())
