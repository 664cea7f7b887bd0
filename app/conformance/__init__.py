"""The conformance check: what a client did wrong in a session recorded by the capture server.

Pure, no I/O: :func:`check` reads a :class:`~app.store.session_record.SessionRecord` and returns
a :class:`Report` of :class:`Finding` s, each naming the rule it breaks (:mod:`.rules`: the RFC
section and whether it is a MUST or a SHOULD), how, and on which lines; and what it could not
know (a dot-stuffing mistake shows only in some messages). The capture server stays lenient —
it accepts what aiosmtpd accepts — and this says what a strict one would have refused.

- :mod:`.dialogue` — the commands: line ends, order, pipelining, MAIL/RCPT syntax, QUIT
- :mod:`.message`  — each message: data lines, 8-bit, dot-stuffing, SIZE, the header fields
"""

from app.conformance.dialogue import check_dialogue
from app.conformance.findings import Finding, Findings, Report
from app.conformance.rules import RULES, Rule
from app.store.session_record import SessionRecord

__all__ = ["RULES", "Finding", "Report", "Rule", "check"]


def check(record: SessionRecord) -> Report:
    """The findings of *record*'s client side; never raises on any record."""
    found = Findings()
    check_dialogue(record, found)
    return found.report()
