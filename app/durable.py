"""Durable writes: once a call returns, the file is on disk, whole, under its final name.

A file is written and fsynced under a private *draft* name in its final directory, then moved into
place by ``rename`` or ``link``, which a reader sees as one step: it finds the old file or the new
one, never a part. The move itself survives a power cut only once the directory is fsynced too
(fsync(2): syncing a file does not sync the entry naming it).

Drafts are named ``.<name>.<pid>.<random>.draft``: two processes writing the same name at once
never share a draft, and a crashed writer's draft is told from real files by the name alone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

DRAFT_SUFFIX = ".draft"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_draft(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write *data* to a fresh, fsynced draft beside *path*; the caller moves it, then drops it."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{DRAFT_SUFFIX}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        draft.unlink()
        raise
    return draft


def replace_durably(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Put *data* at *path*, replacing whatever was there (the last of concurrent writers wins)."""
    draft = write_draft(path, data, mode)
    try:
        os.replace(draft, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
        raise
    fsync_dir(path.parent)
