"""The server's signature on a results email's ``results.json``, so the gradebook can tell a
score this server computed from one somebody typed.

Anyone who can reach the capture port can mail it a ``results.json`` claiming full marks. The
web app therefore signs the exact bytes of the attachment with an HMAC (SHA-256, keyed with the
app's secret key and a purpose of its own, through itsdangerous) and sends the signature in the
message's ``QuizMail-Results-Signature`` header field. The gradebook checks it with the same key:
a row whose signature matches is *verified*; one without a signature, or with one that does not
match (the attachment was edited, or signed by another server's key), is marked *unverified*.

Both sides import this module and nothing else of each other.
"""

from __future__ import annotations

import enum
import hashlib

from itsdangerous import Signer

__all__ = ["HEADER", "Verdict", "check", "sign"]

#: The header field carrying the signature (an optional field, RFC 5322 §3.6.8).
HEADER = "QuizMail-Results-Signature"
#: Keys the HMAC for this one purpose: a signature made here is no attempt token, and back.
PURPOSE = "quizmail.results-signature/1"


class Verdict(enum.Enum):
    VERIFIED = "verified"  # signed by this server's key over these very bytes
    UNSIGNED = "unsigned"  # no signature: mailed by something other than this server
    FORGED = "forged"  # a signature that does not match: edited, or another server's key

    @property
    def trusted(self) -> bool:
        return self is Verdict.VERIFIED


def _signer(secret: str | bytes) -> Signer:
    return Signer(secret, salt=PURPOSE, digest_method=hashlib.sha256)


def sign(results_json: bytes, secret: str | bytes) -> str:
    """The header field value that vouches for *results_json* (43 URL-safe base64 characters)."""
    return _signer(secret).get_signature(results_json).decode("ascii")


def check(results_json: bytes, signature: str | None, secret: str | bytes) -> Verdict:
    """Whether *signature* (the header field's value, or None without one) vouches for the bytes."""
    if signature is None or not signature.strip():
        return Verdict.UNSIGNED
    try:
        value = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return Verdict.FORGED
    return (
        Verdict.VERIFIED
        if _signer(secret).verify_signature(results_json, value)
        else Verdict.FORGED
    )
