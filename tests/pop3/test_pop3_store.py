"""Maildrops over a real MailStore: snapshot, sizes as sent, files read directly or not."""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

import pytest

from app.pop3.store import Maildrops, open_maildrop, read_file, unique_id
from app.store import MailStore, mailbox_name

from .conftest import ADA, ADA_MAIL


def test_the_snapshot_lists_the_mailbox_oldest_first(store: MailStore) -> None:
    drop = open_maildrop(store, ADA)
    assert [m.uid for m in drop.messages] == store.keys(ADA)
    assert [m.load() for m in drop.messages] == ADA_MAIL


def test_an_address_without_a_mailbox_is_an_empty_maildrop(store: MailStore) -> None:
    assert list(open_maildrop(store, "nobody@example.org").messages) == []


def test_mailbox_names_match_ignoring_case(store: MailStore) -> None:
    drop = open_maildrop(store, ADA.upper())
    assert len(drop.messages) == 3


def test_mail_for_two_spellings_is_one_maildrop(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mbox")
    store.deliver(["ODD@Example.ORG"], b"Subject: upper\r\n\r\nupper\r\n")
    store.deliver(["odd@example.org"], b"Subject: lower\r\n\r\nlower\r\n")
    for login in ("ODD@example.org", "odd@EXAMPLE.org", "Odd@example.org"):
        assert [m.load() for m in open_maildrop(store, login).messages] == [
            b"Subject: upper\r\n\r\nupper\r\n",
            b"Subject: lower\r\n\r\nlower\r\n",
        ]


def test_a_mailbox_in_a_maildir_per_spelling_is_one_maildrop(tmp_path: Path) -> None:
    # A store written when mailboxes kept the local part's case: one Maildir per spelling.
    root = tmp_path / "mbox"
    root.mkdir()
    keys = [
        mailbox.Maildir(root / name).add(f"Subject: {name}\r\n\r\nbody\r\n".encode())
        for name in ("ODD@example.org", "odd@example.org")
    ]
    store = MailStore(root)
    drop = open_maildrop(store, "Odd@Example.org")
    assert sorted(m.uid for m in drop.messages) == sorted(keys)
    assert sorted(m.load().split(b"\r\n")[0] for m in drop.messages) == [
        b"Subject: ODD@example.org",
        b"Subject: odd@example.org",
    ]


def test_sizes_count_crlf_line_endings(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mbox")
    store.deliver([ADA], b"Subject: bare\n\nline one\nline two\n")
    (message,) = open_maildrop(store, ADA).messages
    assert message.size == len(b"Subject: bare\r\n\r\nline one\r\nline two\r\n")


def test_a_file_moved_to_cur_is_still_read(store: MailStore) -> None:
    drop = open_maildrop(store, ADA)
    first = drop.messages[0]
    maildir = store.root / mailbox_name(ADA)
    os.rename(maildir / "new" / first.uid, maildir / "cur" / (first.uid + ":2,S"))
    assert first.load() == ADA_MAIL[0]


def test_delete_removes_from_the_store(store: MailStore) -> None:
    drop = open_maildrop(store, ADA)
    drop.delete(drop.messages[1].uid)
    assert store.keys(ADA) == [drop.messages[0].uid, drop.messages[2].uid]


def test_unique_ids_follow_rfc_1939() -> None:
    assert unique_id("1763888400.M1P2Q3R4.host") == "1763888400.M1P2Q3R4.host"
    long_id = unique_id("x" * 80)
    assert 0 < len(long_id) <= 70
    assert long_id == unique_id("x" * 80)  # stable
    assert unique_id("has space") != "has space"
    assert all("!" <= c <= "~" for c in unique_id("has space"))


@pytest.mark.parametrize("expected", [None, 0, 5, 70_000, 200_000])
def test_read_file_reads_to_the_end_whatever_length_it_expects(
    tmp_path: Path, expected: int | None
) -> None:
    path = tmp_path / "message"
    data = bytes(range(256)) * 600  # longer than one read past the expected length
    path.write_bytes(data)
    assert read_file(str(path), expected) == data


def test_a_later_login_reads_only_the_files_new_to_it(
    store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []

    def counting_read(path: str, expected: int | None = None) -> bytes:
        reads.append(path)
        return read_file(path, expected)

    monkeypatch.setattr("app.pop3.store.read_file", counting_read)
    maildrops = Maildrops(store)
    first = maildrops(ADA)
    assert len(reads) == 3
    store.deliver([ADA], b"Subject: bare LF\n\nnew\n")
    store.remove(store.keys(ADA)[0])
    reads.clear()
    second = maildrops(ADA)
    assert len(reads) == 1  # only the new message, for its size
    assert [m.size for m in second.messages] == [
        *(m.size for m in first.messages[1:]),
        len(b"Subject: bare LF\r\n\r\nnew\r\n"),
    ]
    assert [m.load() for m in second.messages[:2]] == ADA_MAIL[1:]
    reads.clear()
    assert [m.size for m in maildrops(ADA).messages] == [m.size for m in second.messages]
    assert reads == []
