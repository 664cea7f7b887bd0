"""The rules a client's side of an SMTP session is checked against, each with its RFC section and
its requirement level (RFC 2119: MUST, SHOULD), in one table.

Every ``says`` paraphrases the section it names; where the RFC's own words matter they are
quoted. A rule is listed here once, whatever check finds it broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["RULES", "Level", "Rule"]

Level = Literal["MUST", "SHOULD"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Level
    rfc: int
    section: str
    says: str

    @property
    def reference(self) -> str:
        return f"RFC {self.rfc} §{self.section}"

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/rfc/rfc{self.rfc}#section-{self.section}"


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.code: rule for rule in rules}


RULES = _rules(
    Rule("bare-lf", "MUST", 5321, "2.3.8",
         "Lines end in CRLF. A client MUST NOT send LF except as part of CRLF."),
    Rule("bare-cr", "MUST", 5321, "2.3.8",
         "Lines end in CRLF. A client MUST NOT send CR except as part of CRLF."),
    Rule("before-greeting", "SHOULD", 5321, "4.3.1",
         '"The sender SHOULD wait for this greeting message before sending any commands."'),
    Rule("unadvertised-pipelining", "MUST", 5321, "4.3.1",
         "Unless an extension such as PIPELINING (RFC 2920) was advertised, the client MUST"
         " wait for each reply before it sends the next command."),
    Rule("pipelining-group-end", "MUST", 2920, "3.1",
         "EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP can only be the last command of a"
         " pipelined group: the client waits for their reply before sending more."),
    Rule("mail-before-helo", "MUST", 5321, "4.1.4",
         '"A client MUST issue HELO or EHLO before starting a mail transaction" (and again'
         " after STARTTLS, RFC 3207 §4.2)."),
    Rule("helo-not-ehlo", "SHOULD", 5321, "3.2",
         '"A client SMTP SHOULD start an SMTP session by issuing the EHLO command."'),
    Rule("path-syntax", "MUST", 5321, "4.1.2",
         "MAIL FROM:<address> and RCPT TO:<address>: the address in angle brackets, and"
         ' "spaces are not permitted on either side of the colon" (§3.3).'),
    Rule("unoffered-parameter", "MUST", 5321, "4.1.1.3",
         '"The client MUST NOT transmit parameters other than those associated with a service'
         ' extension offered by the server in its EHLO response" (also for MAIL, §4.1.1.2).'),
    Rule("size-declared", "SHOULD", 1870, "4",
         "SIZE= declares the message's size in octets as sent after the 354, CRLFs included,"
         " not counting the final dot or the dots added by dot-stuffing."),
    Rule("eight-bit-data", "MUST", 5321, "2.4",
         "A client that has not negotiated an extension (8BITMIME: BODY=8BITMIME on MAIL,"
         " RFC 6152) MUST NOT send octets with the high bit set."),
    Rule("utf8-address", "MUST", 6531, "3.4",
         "An envelope that needs UTF-8 (a non-ASCII address) MUST be sent with the SMTPUTF8"
         " parameter on MAIL FROM."),
    Rule("utf8-header", "MUST", 6531, "3.4",
         "A message whose header fields hold UTF-8 (RFC 6532) MUST be sent with the SMTPUTF8"
         " parameter on MAIL FROM; without it header fields are ASCII (RFC 5322 §2.2)."),
    Rule("command-too-long", "SHOULD", 5321, "4.5.3.1.4",
         "A command line is at most 512 octets with its CRLF; longer objects SHOULD be avoided"
         " (§4.5.3.1)."),
    Rule("data-line-too-long", "MUST", 5322, "2.1.1",
         'Each line of a message "MUST be no more than 998 characters" without its CRLF'
         " (RFC 5321 §4.5.3.1.6: 1000 octets with it)."),
    Rule("nul-in-data", "MUST", 5322, "3.5",
         "A message's text holds no NUL: only the obsolete syntax allowed it, which MUST NOT be"
         " generated (§4)."),
    Rule("dot-stuffing", "MUST", 5321, "4.5.2",
         "Before sending a line of the message that begins with a period, the client adds one"
         ' more period; the server drops it again. A line "." alone ends the data.'),
    Rule("no-quit", "MUST", 5321, "4.1.1.10",
         '"The sender MUST NOT intentionally close the transmission channel until it sends a'
         ' QUIT command."'),
    Rule("transaction-open", "MUST", 5321, "4.1.4",
         '"MAIL … MUST NOT be sent if a mail transaction is already open": after a transaction'
         " that did not end with the reply to the message data, send RSET first."),
    Rule("header-from", "MUST", 5322, "3.6",
         "Every message has exactly one From field (the table in §3.6: at least 1, at most 1)."),
    Rule("header-date", "MUST", 5322, "3.6",
         "Every message has exactly one Date field (the table in §3.6: at least 1, at most 1)."),
    Rule("date-form", "MUST", 5322, "3.3",
         'Date is "[day-of-week,] day month year hour:minute[:second] zone", with English'
         ' names and a numeric zone ("Wed, 2 Dec 2026 18:30:00 +0000"); the day of the week,'
         " if given, MUST be the one the date falls on; obsolete forms (GMT, two-digit years)"
         " MUST NOT be generated (§4.3)."),
    Rule("message-id-missing", "SHOULD", 5322, "3.6.4",
         '"Every message SHOULD have a "Message-ID:" field."'),
    Rule("message-id-form", "MUST", 5322, "3.6.4",
         "A Message-ID is <id-left@id-right>, each side a dot-atom (or a [literal] on the"
         " right), and the field appears at most once."),
    Rule("mime-version", "MUST", 2045, "4",
         "A message that uses MIME (Content-Type, Content-Transfer-Encoding) MUST have the"
         ' header field "MIME-Version: 1.0".'),
    Rule("header-line-too-long", "MUST", 5322, "2.1.1",
         "Header lines MUST be at most 998 characters (and SHOULD be at most 78): longer"
         " fields are folded at whitespace."),
    Rule("header-syntax", "MUST", 5322, "2.2",
         "A header field is a name, a colon and a value; a line that continues a field begins"
         " with whitespace; an empty line ends the header section."),
    Rule("encoded-word-syntax", "MUST", 2047, "2",
         'An encoded-word is "=?charset?encoding?encoded-text?=", at most 75 characters, with'
         " no spaces or question marks inside its text."),
    Rule("encoded-word-encoding", "MUST", 2047, "4",
         "The encoding is B (base64, RFC 2047 §4.1) or Q (§4.2), and the text is valid in it."),
    Rule("encoded-word-place", "MUST", 2047, "5",
         "An encoded-word stands apart from text next to it (by whitespace), holds whole"
         " characters only, and MUST NOT appear inside a quoted-string or an address."),
)  # fmt: skip
