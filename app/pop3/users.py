"""POP3 logins: a users file of ``address password`` lines, plain or hashed passwords.

The file format (docs/pop3.md), one login a line, as the course labs' ``userlogincred.txt``::

    # comments and blank lines are ignored
    ada@example.org   s3cret                 plain text: USER/PASS, and APOP when offered
    bob@example.org   scrypt$16384$8$1$SALT$HASH
    eve@example.org   pbkdf2_sha256$600000$SALT$HASH

The first run of whitespace separates the address from the password, which runs to the end of
the line (trailing whitespace dropped). SALT and HASH are unpadded URL-safe base64. A hashed
password cannot answer APOP, which needs the shared secret itself (RFC 1939 §7).
``hash_password`` (or ``quizmail pop3-hash``) makes a hashed one.

The instructor login (a configured name, e.g. ``instructor``) may open any mailbox by logging in
as ``instructor+ADDRESS`` with the instructor's own password; ``instructor`` alone names no
mailbox, and its right password gets a reply that says how to name one (:data:`NAME_A_MAILBOX`).

Logins, the file's addresses and mailboxes are compared by :func:`app.addresses.mailbox_key`, as
the capture server files mail: case ignored in the domain (RFC 5321 §2.4) and the local part. Two
lines of the file for one mailbox (``ODD@example.org`` and ``odd@example.org``) are an error.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.addresses import mailbox_key

__all__ = [
    "NAME_A_MAILBOX",
    "Credentials",
    "Users",
    "UsersFileError",
    "hash_password",
    "verify_password",
]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # hashlib's scrypt at ~16 MiB, as OWASP suggests
PBKDF2_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (2023)
SCRYPT_MAXMEM = 64 * 1024 * 1024
#: The reply (after ``-ERR``) to the instructor's right password without a mailbox named; only
#: after PASS or APOP, so that nobody learns what the instructor's login is called without it.
NAME_A_MAILBOX = "[AUTH] name a mailbox: {instructor}+ADDRESS, e.g. {instructor}+ada@example.org"


class UsersFileError(ValueError):
    """The users file has a line that is not ``address password``; names the file and line."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, scheme: str = "scrypt", *, work: int | None = None) -> str:
    """A hashed password for the users file: ``scrypt$N$r$p$SALT$HASH`` or ``pbkdf2_sha256$…``.

    *work* overrides the cost (scrypt's N, a power of two, or PBKDF2's iterations); the cost is
    stored in the hash, so cheaper hashes (for tests) verify the same way.
    """
    salt = secrets.token_bytes(16)
    if scheme == "scrypt":
        n = work or SCRYPT_N
        key = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
        return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"
    if scheme == "pbkdf2_sha256":
        iterations = work or PBKDF2_ITERATIONS
        key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(key)}"
    raise ValueError(f"unknown password scheme {scheme!r}: use scrypt or pbkdf2_sha256")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM)


@functools.cache
def _decoy() -> str:
    """A hash at the default cost, checked for unknown logins so that they take as long."""
    return hash_password(secrets.token_hex())


def is_hashed(stored: str) -> bool:
    return stored.startswith(("scrypt$", "pbkdf2_sha256$"))


def verify_password(stored: str, password: str) -> bool:
    """Whether *password* matches the stored (plain or hashed) one, compared in constant time."""
    if not is_hashed(stored):
        return hmac.compare_digest(stored.encode(), password.encode())
    scheme, *fields = stored.split("$")
    try:
        if scheme == "scrypt":
            n, r, p, salt, key = fields
            got = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        else:
            iterations, salt, key = fields
            got = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(got, _unb64(key))


def _twice(source: str, number: int, address: str, first: tuple[int, str]) -> str:
    return (
        f"{source}:{number}: {address} is the mailbox of line {first[0]} ({first[1]}) again:"
        " addresses are compared ignoring case; keep one of the two lines"
    )


def apop_digest(timestamp: str, secret: str) -> str:
    """RFC 1939 §7: MD5 of the greeting timestamp followed by the shared secret, in hex."""
    return hashlib.md5((timestamp + secret).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """A login that passed: who logged in and which mailbox the session opens (None: the
    instructor logged in without naming one)."""

    login: str
    mailbox: str | None


def normalize(address: str) -> str:
    """A login or users-file address as the store tells mailboxes apart (its mailbox key)."""
    return mailbox_key(address.strip())


@dataclass(frozen=True)
class Users:
    """The accounts of a users file, and the instructor's login name (None: no instructor)."""

    accounts: Mapping[str, str]  # mailbox key of the address -> stored password
    instructor: str | None = None

    @classmethod
    def parse(cls, text: str, source: str = "<users>", instructor: str | None = None) -> Users:
        accounts: dict[str, str] = {}
        lines: dict[str, tuple[int, str]] = {}  # account -> (line number, address as written)
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.strip().split(None, 1)
            if len(parts) != 2:
                raise UsersFileError(f"{source}:{number}: expected 'address password'")
            account = normalize(parts[0])
            if account in lines:
                raise UsersFileError(_twice(source, number, parts[0], lines[account]))
            lines[account] = number, parts[0]
            accounts[account] = parts[1]
        return cls(accounts, normalize(instructor) if instructor else None)

    @classmethod
    def from_file(cls, path: str | Path, instructor: str | None = None) -> Users:
        return cls.parse(Path(path).read_text(encoding="utf-8"), str(path), instructor)

    @functools.cached_property
    def all_plain(self) -> bool:
        """Whether every account has a plain-text password, so that APOP (RFC 1939 §7) can
        succeed for each; False without accounts. A hashed one cannot answer APOP."""
        return bool(self.accounts) and not any(map(is_hashed, self.accounts.values()))

    def with_account(self, address: str, password: str) -> Users:
        """These users and one more (e.g. the demo's instructor and its generated password)."""
        return Users({**self.accounts, normalize(address): password}, self.instructor)

    def target(self, login: str) -> tuple[str, str | None]:
        """(account, mailbox) for a login name: ``instructor+ADDRESS`` opens ADDRESS's mailbox,
        ``instructor`` (or ``instructor+``) none; any other login opens its own."""
        name = normalize(login)
        instructor = self.instructor
        if instructor and (name == instructor or name.startswith(instructor + "+")):
            return instructor, name[len(instructor) + 1 :] or None
        return name, name

    def name_a_mailbox(self) -> str:
        """The -ERR text for the instructor's login without a mailbox (see NAME_A_MAILBOX)."""
        return NAME_A_MAILBOX.format(instructor=self.instructor)

    def check_password(self, login: str, password: str) -> Credentials | None:
        """USER/PASS: the credentials if the password is right, else None (slow for hashes)."""
        account, mailbox = self.target(login)
        stored = self.accounts.get(account)
        good = verify_password(stored or _decoy(), password) and stored is not None
        return Credentials(login, mailbox) if good else None

    def check_apop(self, login: str, timestamp: str, digest: str) -> Credentials | None:
        """APOP: the credentials if *digest* is MD5(timestamp + secret); plain secrets only."""
        account, mailbox = self.target(login)
        stored = self.accounts.get(account)
        secret = stored if stored is not None and not is_hashed(stored) else secrets.token_hex()
        good = hmac.compare_digest(apop_digest(timestamp, secret), digest)
        return Credentials(login, mailbox) if good else None
