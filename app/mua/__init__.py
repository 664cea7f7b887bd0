"""The mail user agent: ``quizmail client`` (read, delete, compose and send in a terminal) and
``quizmail fetch`` (a mailbox downloaded into a local Maildir or mbox), over our POP3 client
(:mod:`app.pop3client`) and our SMTP client (:mod:`app.smtp`).

``local`` writes local mailboxes and remembers what was fetched, ``fetch`` downloads, ``session``
is the terminal client's view of a maildrop, ``display`` and ``compose`` turn mail into text and
typed text into mail, ``terminal`` holds the menus, ``cli`` the commands.
"""

from app.mua.fetch import FetchResult, fetch
from app.mua.local import LocalMailbox, Maildir, Mbox, SeenLog

__all__ = ["FetchResult", "LocalMailbox", "Maildir", "Mbox", "SeenLog", "fetch"]
