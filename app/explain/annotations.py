"""What each word of an SMTP dialogue means, and where that is written: the data, in one place.

Commands, reply codes, EHLO keywords, MAIL and RCPT parameters, SASL mechanisms and enhanced
status codes, each a meaning in plain words and the section that defines it. Only what the
documents say is here: anything missing is reported as unknown by :mod:`app.explain.dialogue`,
never guessed. Where only the document (not a section) is certain, the reference names the document.
"""

from __future__ import annotations

from typing import NamedTuple

from app.explain.references import Ref, document, rfc


class Annotation(NamedTuple):
    meaning: str
    ref: Ref


def _a(meaning: str, ref: Ref) -> Annotation:
    return Annotation(meaning, ref)


POSTFIX_XCLIENT = document("Postfix XCLIENT_README", "https://www.postfix.org/XCLIENT_README.html")
POSTFIX_XFORWARD = document(
    "Postfix XFORWARD_README", "https://www.postfix.org/XFORWARD_README.html"
)

# --- commands (the verb, upper case) --------------------------------------------------------------

COMMANDS: dict[str, Annotation] = {
    "HELO": _a(
        "The client greets the server with its own name; plain SMTP, no extensions.",
        rfc(5321, "4.1.1.1"),
    ),
    "EHLO": _a(
        "The client greets the server with its own name and asks which service extensions"
        " it offers.",
        rfc(5321, "4.1.1.1"),
    ),
    "MAIL": _a(
        "Starts a mail transaction and gives the envelope sender (the reverse-path, where"
        " bounces go), which need not be the From: header field.",
        rfc(5321, "4.1.1.2"),
    ),
    "RCPT": _a(
        "Names one envelope recipient of this message (one RCPT for each); the To: and Cc:"
        " header fields play no part in delivery.",
        rfc(5321, "4.1.1.3"),
    ),
    "DATA": _a(
        "Asks to send the message itself; after a 354 reply its lines follow, ended by a"
        ' line holding only ".".',
        rfc(5321, "4.1.1.4"),
    ),
    "RSET": _a(
        "Abandons the current mail transaction: sender, recipients and data are"
        " forgotten; the connection stays open.",
        rfc(5321, "4.1.1.5"),
    ),
    "VRFY": _a("Asks whether an address names a mailbox here.", rfc(5321, "4.1.1.6")),
    "EXPN": _a("Asks for the members of a mailing list.", rfc(5321, "4.1.1.7")),
    "HELP": _a("Asks the server for help text.", rfc(5321, "4.1.1.8")),
    "NOOP": _a(
        "Does nothing but ask for a 250 reply: checks that the connection works.",
        rfc(5321, "4.1.1.9"),
    ),
    "QUIT": _a("Asks the server to answer 221 and close the connection.", rfc(5321, "4.1.1.10")),
    "STARTTLS": _a(
        "Asks to switch this connection to TLS: after a 220 reply the TLS handshake starts.",
        rfc(3207, "4"),
    ),
    "AUTH": _a(
        "Starts a login with the SASL mechanism named (the server must have offered"
        " AUTH in its EHLO reply).",
        rfc(4954, "4"),
    ),
    "BDAT": _a(
        "Sends the next chunk of the message, of the size given in octets, instead of"
        " DATA; LAST marks the final chunk (CHUNKING).",
        rfc(3030, "2"),
    ),
    "ETRN": _a("Asks the server to start delivering the mail it holds for a domain.", rfc(1985)),
    "TURN": _a(
        "Asks to swap the roles of client and server; deprecated, as it lets anyone"
        " collect another host's mail.",
        rfc(5321, "F.1"),
    ),
    "XCLIENT": _a(
        "A Postfix extension: a trusted proxy tells the server the original client's"
        " name and address.",
        POSTFIX_XCLIENT,
    ),
    "XFORWARD": _a(
        "A Postfix extension: a content filter passes on the original client's name,"
        " address and protocol, for logging.",
        POSTFIX_XFORWARD,
    ),
}

# --- reply codes ----------------------------------------------------------------------------------

# RFC 5321 §4.2.1: the first digit says how it went, the second what the reply is about.
REPLY_CLASSES: dict[str, Annotation] = {
    "2": _a("positive completion: the command was done", rfc(5321, "4.2.1")),
    "3": _a(
        "positive intermediate: accepted so far, the server waits for more", rfc(5321, "4.2.1")
    ),
    "4": _a(
        "transient negative completion: not done this time, trying again later may work",
        rfc(5321, "4.2.1"),
    ),
    "5": _a(
        "permanent negative completion: not done, and the same command will fail again",
        rfc(5321, "4.2.1"),
    ),
}
REPLY_SUBJECTS: dict[str, str] = {
    "0": "syntax",
    "1": "information",
    "2": "the connection",
    "3": "unspecified",
    "4": "unspecified",
    "5": "the mail system",
}

_CODES = rfc(5321, "4.2.3")
_AUTH_CODES = rfc(4954, "6")
REPLY_CODES: dict[int, Annotation] = {
    211: _a("System status, or a system help reply.", _CODES),
    214: _a("Help message, for a human reader.", _CODES),
    220: _a("Service ready.", _CODES),
    221: _a("Service closing the connection.", _CODES),
    235: _a("Authentication succeeded.", _AUTH_CODES),
    250: _a("Requested action okay, completed.", _CODES),
    251: _a("User not local; the server will forward the message.", rfc(5321, "3.4")),
    252: _a(
        "Cannot verify the user, but the server will accept mail for it and try to deliver.",
        rfc(5321, "3.5.3"),
    ),
    334: _a(
        "A SASL challenge (base64; may be empty): the client answers with one line.", rfc(4954, "4")
    ),
    354: _a('Start mail input; end it with a line holding only ".".', _CODES),
    421: _a("Service not available; the server is closing the connection.", _CODES),
    432: _a("A password transition is needed.", _AUTH_CODES),
    450: _a(
        "Mailbox unavailable for now (busy, or blocked for policy reasons); try later.", _CODES
    ),
    451: _a("Action aborted: a local error in processing; try later.", _CODES),
    452: _a("Insufficient system storage, or too many recipients for now.", _CODES),
    454: _a("Temporary authentication failure.", _AUTH_CODES),
    455: _a("The server cannot accommodate the parameters for now.", _CODES),
    500: _a("Syntax error: command not recognised (or line too long).", _CODES),
    501: _a("Syntax error in the parameters or arguments.", _CODES),
    502: _a("Command not implemented.", rfc(5321, "4.2.4")),
    503: _a("Bad sequence of commands.", _CODES),
    504: _a("Command parameter not implemented.", _CODES),
    521: _a("This host does not accept mail at all.", rfc(7504)),
    530: _a("Authentication required before this command.", _AUTH_CODES),
    534: _a("The authentication mechanism is too weak.", _AUTH_CODES),
    535: _a("Authentication credentials invalid.", _AUTH_CODES),
    538: _a("Encryption required for the requested authentication mechanism.", _AUTH_CODES),
    550: _a("Mailbox unavailable (not found, no access, or refused by policy).", _CODES),
    551: _a("User not local; try the address given.", _CODES),
    552: _a("Action aborted: exceeded storage allocation (the message is too big).", _CODES),
    553: _a("Mailbox name not allowed (for example, bad syntax).", _CODES),
    554: _a("Transaction failed (in a greeting: no SMTP service here).", _CODES),
    555: _a("MAIL FROM or RCPT TO parameters not recognised or not implemented.", _CODES),
    556: _a("The domain of this address does not accept mail.", rfc(7504)),
}

#: The same code says more after some commands. "" is the greeting (no command before it) and
#: "." the reply to the end of the message data.
REPLIES_AFTER: dict[tuple[str, int], Annotation] = {
    ("", 220): _a("The greeting: the server is ready, and names itself.", rfc(5321, "3.1")),
    ("", 554): _a(
        "A refusing greeting: no SMTP service here; the client should QUIT.", rfc(5321, "3.1")
    ),
    ("", 421): _a(
        "The server is not available and closes the connection at once.", rfc(5321, "3.1")
    ),
    ("EHLO", 250): _a(
        "The server greets back; each line after the first names an extension it offers.",
        rfc(5321, "4.1.1.1"),
    ),
    ("HELO", 250): _a("The server greets back; HELO brings no extensions.", rfc(5321, "4.1.1.1")),
    ("MAIL", 250): _a("Sender accepted: the mail transaction has begun.", rfc(5321, "4.1.1.2")),
    ("RCPT", 250): _a("Recipient accepted.", rfc(5321, "4.1.1.3")),
    ("DATA", 354): _a(
        'Go ahead: send the message, then a line holding only ".".', rfc(5321, "4.1.1.4")
    ),
    (".", 250): _a(
        "Message accepted: from now on the server is responsible for delivering it"
        " or reporting that it could not.",
        rfc(5321, "4.2.5"),
    ),
    ("QUIT", 221): _a("Goodbye: the server closes the connection.", rfc(5321, "4.1.1.10")),
    ("STARTTLS", 220): _a(
        "Ready to start TLS: the handshake follows, then the client must send"
        " EHLO again and forget what it learnt before.",
        rfc(3207, "4"),
    ),
    ("STARTTLS", 454): _a("TLS not available for a temporary reason.", rfc(3207, "4")),
    ("STARTTLS", 501): _a("Syntax error: STARTTLS takes no parameters.", rfc(3207, "4")),
}

# --- EHLO keywords --------------------------------------------------------------------------------

KEYWORDS: dict[str, Annotation] = {
    "SIZE": _a(
        "The largest message the server accepts, in octets (0 or none: no fixed limit);"
        " the client may declare a message's size with SIZE= on MAIL.",
        rfc(1870, "3"),
    ),
    "PIPELINING": _a(
        "The client may send MAIL, every RCPT and DATA without waiting for each"
        " reply; the replies then come back in the same order.",
        rfc(2920, "2"),
    ),
    "8BITMIME": _a(
        "The server takes message bodies with 8-bit bytes, declared with BODY=8BITMIME on MAIL.",
        rfc(6152, "2"),
    ),
    "SMTPUTF8": _a(
        "The server takes UTF-8 addresses and header fields, when MAIL carries the"
        " SMTPUTF8 parameter.",
        rfc(6531, "3.1"),
    ),
    "STARTTLS": _a(
        "The server can switch this connection to TLS (the STARTTLS command).", rfc(3207, "3")
    ),
    "AUTH": _a(
        "The server accepts a login (AUTH) with the SASL mechanisms listed.", rfc(4954, "3")
    ),
    "ENHANCEDSTATUSCODES": _a(
        "The text of every 2xx, 4xx and 5xx reply line (but the greeting"
        " and the reply to HELO or EHLO) starts with an enhanced status"
        " code, class.subject.detail (RFC 3463).",
        rfc(2034, "4"),
    ),
    "DSN": _a(
        "The server takes requests for delivery status notifications: NOTIFY and ORCPT on"
        " RCPT, RET and ENVID on MAIL.",
        rfc(3461, "2"),
    ),
    "CHUNKING": _a(
        "The client may send the message in chunks with BDAT instead of DATA.", rfc(3030, "2")
    ),
    "BINARYMIME": _a(
        "The server takes binary message bodies (BODY=BINARYMIME, sent with BDAT).", rfc(3030, "3")
    ),
    "HELP": _a(
        "The server answers the HELP command (a keyword of the first registry of extensions).",
        rfc(1869, "5"),
    ),
    "EXPN": _a(
        "The server answers the EXPN command (a keyword of the first registry of extensions).",
        rfc(1869, "5"),
    ),
    "VRFY": _a(
        "Names VRFY, a command of base SMTP; some servers (Postfix) list it to say they answer it.",
        rfc(5321, "4.1.1.6"),
    ),
    "ETRN": _a("The server starts delivering its queue for a domain on request (ETRN).", rfc(1985)),
    "DELIVERBY": _a(
        "The client may ask for delivery within a time limit (BY= on MAIL).", rfc(2852)
    ),
    "REQUIRETLS": _a(
        "The client may require TLS for every hop of this message (REQUIRETLS on MAIL).", rfc(8689)
    ),
    "MT-PRIORITY": _a(
        "The client may give the message a priority (MT-PRIORITY= on MAIL).", rfc(6710)
    ),
    "BURL": _a(
        "The client may have the server fetch the message from an IMAP URL (BURL).", rfc(4468)
    ),
    "LIMITS": _a("The server states its limits, such as recipients per transaction.", rfc(9422)),
    "XCLIENT": _a(
        "A Postfix extension: a trusted proxy may pass on the original client's name"
        " and address (the attributes listed).",
        POSTFIX_XCLIENT,
    ),
    "XFORWARD": _a(
        "A Postfix extension: a content filter may pass on the original client's"
        " attributes (those listed), for logging.",
        POSTFIX_XFORWARD,
    ),
}

# --- MAIL and RCPT parameters ---------------------------------------------------------------------

MAIL_PARAMETERS: dict[str, Annotation] = {
    "SIZE": _a(
        "The message's size in octets, declared before it is sent, so that the server can"
        " refuse it at once if too big.",
        rfc(1870, "6"),
    ),
    "BODY": _a("The body's type: 7BIT, 8BITMIME (8-bit bytes) or BINARYMIME.", rfc(6152, "2")),
    "SMTPUTF8": _a("This message has UTF-8 in addresses or header fields.", rfc(6531, "3.4")),
    "RET": _a(
        "What a delivery status notification returns: FULL message or HDRS only.", rfc(3461, "4.3")
    ),
    "ENVID": _a(
        "An envelope identifier, quoted in any delivery status notification.", rfc(3461, "4.4")
    ),
    "AUTH": _a(
        "The identity that submitted the message, passed from relay to relay (<> when unknown).",
        rfc(4954, "5"),
    ),
    "REQUIRETLS": _a("Every relay must use TLS for this message.", rfc(8689)),
}
RCPT_PARAMETERS: dict[str, Annotation] = {
    "NOTIFY": _a(
        "When to send a delivery status notification: NEVER, or any of SUCCESS, FAILURE, DELAY.",
        rfc(3461, "4.1"),
    ),
    "ORCPT": _a(
        "The original recipient address, quoted in any delivery status notification.",
        rfc(3461, "4.2"),
    ),
}

# --- SASL mechanisms (AUTH) -----------------------------------------------------------------------

AUTH_MECHANISMS: dict[str, Annotation] = {
    "PLAIN": _a(
        "user name and password in one base64 line; readable by anyone on the path"
        " unless the connection is encrypted",
        rfc(4616),
    ),
    "LOGIN": _a(
        "user name and password in two base64 lines; in no RFC, only an expired Internet-Draft",
        document(
            "draft-murchison-sasl-login",
            "https://datatracker.ietf.org/doc/draft-murchison-sasl-login/",
        ),
    ),
    "CRAM-MD5": _a("a challenge answered with an HMAC-MD5 of the password", rfc(2195)),
    "SCRAM-SHA-1": _a("salted challenge-response; the password never crosses", rfc(5802)),
    "SCRAM-SHA-256": _a("salted challenge-response with SHA-256", rfc(7677)),
    "GSSAPI": _a("Kerberos V5 through GSS-API", rfc(4752)),
    "EXTERNAL": _a(
        "identity established outside SASL, such as a TLS client certificate", rfc(4422, "A")
    ),
    "ANONYMOUS": _a("no identity, only an optional trace string", rfc(4505)),
    "OAUTHBEARER": _a("an OAuth 2.0 bearer token", rfc(7628)),
    "XOAUTH2": _a(
        "Google's earlier form of an OAuth 2.0 bearer token",
        document("Google XOAUTH2", "https://developers.google.com/gmail/imap/xoauth2-protocol"),
    ),
}

# --- enhanced status codes (RFC 3463), class.subject.detail ---------------------------------------

ENHANCED_CLASSES: dict[str, str] = {
    "2": "success",
    "4": "persistent transient failure (sending later may work)",
    "5": "permanent failure (the message or the address must change)",
}
ENHANCED_SUBJECTS: dict[str, str] = {
    "0": "other or undefined status",
    "1": "addressing",
    "2": "mailbox",
    "3": "mail system",
    "4": "network and routing",
    "5": "mail delivery protocol",
    "6": "message content or media",
    "7": "security or policy",
}
ENHANCED_STRUCTURE = rfc(3463, "2")

_SECTION_OF_SUBJECT = {
    "0": "3.1",
    "1": "3.2",
    "2": "3.3",
    "3": "3.4",
    "4": "3.5",
    "5": "3.6",
    "6": "3.7",
    "7": "3.8",
}


def _rfc3463(subject_detail: str, meaning: str) -> tuple[str, Annotation]:
    return subject_detail, _a(meaning, rfc(3463, _SECTION_OF_SUBJECT[subject_detail[0]]))


ENHANCED_DETAILS: dict[str, Annotation] = dict(
    [
        _rfc3463("0.0", "other undefined status"),
        _rfc3463("1.0", "other address status"),
        _rfc3463("1.1", "bad destination mailbox address: no such mailbox"),
        _rfc3463("1.2", "bad destination system address: the domain takes no mail"),
        _rfc3463("1.3", "bad destination mailbox address syntax"),
        _rfc3463("1.4", "destination mailbox address ambiguous"),
        _rfc3463("1.5", "destination address valid"),
        _rfc3463("1.6", "destination mailbox has moved, no forwarding address"),
        _rfc3463("1.7", "bad sender's mailbox address syntax"),
        _rfc3463("1.8", "bad sender's system address"),
        _rfc3463("2.0", "other or undefined mailbox status"),
        _rfc3463("2.1", "mailbox disabled, not accepting messages"),
        _rfc3463("2.2", "mailbox full"),
        _rfc3463("2.3", "message length exceeds administrative limit"),
        _rfc3463("2.4", "mailing list expansion problem"),
        _rfc3463("3.0", "other or undefined mail system status"),
        _rfc3463("3.1", "mail system full"),
        _rfc3463("3.2", "system not accepting network messages"),
        _rfc3463("3.3", "system not capable of selected features"),
        _rfc3463("3.4", "message too big for system"),
        _rfc3463("3.5", "system incorrectly configured"),
        _rfc3463("4.0", "other or undefined network or routing status"),
        _rfc3463("4.1", "no answer from host"),
        _rfc3463("4.2", "bad connection"),
        _rfc3463("4.3", "directory server failure"),
        _rfc3463("4.4", "unable to route"),
        _rfc3463("4.5", "mail system congestion"),
        _rfc3463("4.6", "routing loop detected"),
        _rfc3463("4.7", "delivery time expired"),
        _rfc3463("5.0", "other or undefined protocol status"),
        _rfc3463("5.1", "invalid command (out of sequence or unsupported)"),
        _rfc3463("5.2", "syntax error"),
        _rfc3463("5.3", "too many recipients"),
        _rfc3463("5.4", "invalid command arguments"),
        _rfc3463("5.5", "wrong protocol version"),
        _rfc3463("6.0", "other or undefined media error"),
        _rfc3463("6.1", "media not supported"),
        _rfc3463("6.2", "conversion required and prohibited"),
        _rfc3463("6.3", "conversion required but not supported"),
        _rfc3463("6.4", "conversion with loss performed"),
        _rfc3463("6.5", "conversion failed"),
        _rfc3463("7.0", "other or undefined security status"),
        _rfc3463("7.1", "delivery not authorized, message refused"),
        _rfc3463("7.2", "mailing list expansion prohibited"),
        _rfc3463("7.3", "security conversion required but not possible"),
        _rfc3463("7.4", "security features not supported"),
        _rfc3463("7.5", "cryptographic failure"),
        _rfc3463("7.6", "cryptographic algorithm not supported"),
        _rfc3463("7.7", "message integrity failure"),
    ]
) | {
    "1.10": _a("recipient address has a null MX: the domain takes no mail", rfc(7505)),
    "5.6": _a("authentication exchange line is too long", _AUTH_CODES),
    "6.6": _a("message content not available", rfc(4468)),
    "6.7": _a("non-ASCII addresses not permitted for that sender or recipient", rfc(6531, "4.2")),
    "6.8": _a(
        "UTF-8 string reply is required, but not permitted by the SMTP client", rfc(6531, "4.2")
    ),
    "6.9": _a(
        "UTF-8 header message cannot be transferred to one or more recipients", rfc(6531, "4.2")
    ),
    "7.8": _a("authentication credentials invalid", _AUTH_CODES),
    "7.9": _a("authentication mechanism is too weak", _AUTH_CODES),
    "7.10": _a("encryption needed", rfc(5248)),
    "7.11": _a("encryption required for the requested authentication mechanism", _AUTH_CODES),
    "7.12": _a("a password transition is needed", _AUTH_CODES),
    "7.13": _a("user account disabled", rfc(5248)),
    "7.14": _a("trust relationship required", rfc(5248)),
    "7.20": _a("no passing DKIM signature found", rfc(7372)),
    "7.21": _a("no acceptable DKIM signature found", rfc(7372)),
    "7.22": _a("no valid author-matched DKIM signature found", rfc(7372)),
    "7.23": _a("SPF validation failed", rfc(7372)),
    "7.24": _a("SPF validation error", rfc(7372)),
    "7.25": _a("reverse DNS validation failed", rfc(7372)),
    "7.26": _a("multiple authentication checks failed", rfc(7372)),
}

# --- the message data -----------------------------------------------------------------------------

DOT_STUFFING = _a(
    'A line of the message that starts with "." is sent with one more "." in'
    " front, which the server removes, so that no line of the message can end it"
    " early.",
    rfc(5321, "4.5.2"),
)
END_OF_DATA = _a('A line holding only "." ends the message data.', rfc(5321, "4.1.1.4"))
LINE_LENGTH = _a(
    "A line of text may be at most 1000 octets, CRLF included.", rfc(5321, "4.5.3.1.6")
)
PIPELINED_GROUP = _a(
    "These commands went out together, before any of their replies came back;"
    " the replies answer them in order.",
    rfc(2920, "3.1"),
)
NULL_REVERSE_PATH = _a(
    "The null reverse-path <>: this is a bounce or a delivery report, which"
    " must never itself be bounced.",
    rfc(5321, "4.5.5"),
)
SASL_RESPONSE = _a(
    "The client's answer to the server's 334 challenge (base64), hidden here as"
    " it may hold a password.",
    rfc(4954, "4"),
)
TLS_STARTS = _a(
    "From here on the dialogue runs inside TLS; the client must send EHLO again.", rfc(3207, "4.2")
)
