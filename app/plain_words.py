"""What became of a results email, in words a student understands.

A mail server's reply is a code, an enhanced code (RFC 3463) and text written for
administrators; :func:`explain_reply` turns it into a sentence saying what it means and what to
do, and :func:`explain` does the same for an outbox record (the status page's sentence).
"""

from __future__ import annotations

import re

from app.outbox import OutboxRecord

__all__ = ["ENHANCED_MEANINGS", "REPLY_MEANINGS", "explain", "explain_reply"]


#: What a reply code means, in words a student understands (RFC 5321 §4.2.2-§4.2.3).
REPLY_MEANINGS: dict[int, str] = {
    421: "the mail server is closing the connection or too busy right now",
    450: "the mailbox is unavailable for the moment (busy, or the server is checking)",
    451: "the mail server had a local problem",
    452: "the mail server has run out of room for now",
    530: "the mail server wants QuizMail to log in first",
    535: "the mail server did not accept QuizMail's login",
    550: "the mail server says this mailbox does not exist or does not take mail",
    551: "this address is not handled by the mail server QuizMail uses",
    552: "the message is too large, or the mailbox is full",
    553: "the mail server does not accept this address as written",
    554: "the mail server refused the message (usually a policy decision)",
    556: "the recipient's domain does not accept mail at all",
}


#: RFC 3463 subject.detail codes that say more than the basic code: a 550 may mean "no such
#: user" (5.1.1) or "we do not relay" (5.7.1), and a student should hear which.
ENHANCED_MEANINGS: dict[str, str] = {
    "1.1": "the mail server says this mailbox does not exist",
    "1.2": "the mail server cannot find the domain of this address",
    "1.3": "the mail server does not accept this address as written",
    "1.10": "the recipient's domain says it accepts no mail (a null MX record, RFC 7505)",
    "2.1": "this mailbox is not taking mail at the moment",
    "2.2": "this mailbox is full",
    "3.4": "the message is too large for the mail server",
    "4.1": "no mail server of the recipient's domain answered",
    "4.3": "looking up the recipient's domain in DNS failed for the moment",
    "4.4": "no mail server of the recipient's domain could be used",
    "7.1": "the mail server does not take mail for this address (it only delivers to its own"
    " domains)",
}
_ENHANCED = re.compile(r"[245]\.(\d{1,3}\.\d{1,3})\b")
#: Postfix's "We do not relay" (reject_unauth_destination): the address may be right; the
#: mail server passes mail on only for its own networks and domains.
RELAY_DENIED = re.compile(r"relay access denied|relaying denied", re.IGNORECASE)
RELAY_DENIED_MEANING = (
    'The mail server refused to pass the message on to this address ("Relay access denied"):'
    " it relays only for its own network and domains. The address may well be right; whoever"
    " runs the mail server must let QuizMail relay, or use an address at one of its domains."
)


def explain_reply(reply: str | None) -> str:
    """``"550 5.1.1 No such user here"`` → a sentence on what it means and what to do."""
    code = int(reply[:3]) if reply and reply[:3].isdigit() else 0
    if 500 <= code < 600 and RELAY_DENIED.search(reply or ""):
        return RELAY_DENIED_MEANING
    enhanced = _ENHANCED.match(reply, 4) if reply and code else None
    meaning = (enhanced and ENHANCED_MEANINGS.get(enhanced.group(1))) or REPLY_MEANINGS.get(code)
    if 400 <= code < 500:
        meaning = meaning or "the mail server had a temporary problem"
        return f"{meaning.capitalize()}. QuizMail keeps the message and tries again."
    if 500 <= code < 600:
        meaning = meaning or "the mail server refused the message for good"
        return f"{meaning.capitalize()}. Check the address for typos, or use another one."
    return "The mail server could not be reached. QuizMail keeps the message and tries again."


def explain(record: OutboxRecord) -> str:
    """What became of *record*'s message, for the student's status page."""
    if record.state == "sent":
        return "The mail server accepted the message; it now delivers it to the mailbox."
    if record.state == "failed" and record.reply is None:
        return f"QuizMail could not send this message: {record.last_error}"
    return explain_reply(record.reply if record.state == "failed" else record.last_error)
