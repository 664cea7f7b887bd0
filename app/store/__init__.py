"""The receive side: captured mail stored per recipient, and what reads it back.

One module per job, dependencies flowing down the list:

- ``naming``        mailbox names: an address as a safe, reversible Maildir name
- ``message_view``  a stored message taken apart for display (bounded MIME walk, sanitised HTML)
- ``parsing``       what the index keeps of a message
- ``maildir``       durable Maildir writes, in batches
- ``index``         the SQLite index: listing, filtering, search
- ``mailstore``     :class:`MailStore`, the face the capture server, web app, POP3 and CLI use
- ``gradebook``     results emails read back into rows and statistics

Nothing here knows Flask or aiosmtpd. The send side (``app.mail``, ``app.smtp``, ``app.notify``,
``app.outbox``) never imports this package.
"""

from app.store.index import INDEX_FILE, RECENT_SECONDS, MessageSummary
from app.store.maildir import Delivery
from app.store.mailstore import MailStore
from app.store.naming import MAX_NAME_BYTES, address_of_mailbox, mailbox_name

__all__ = [
    "INDEX_FILE",
    "MAX_NAME_BYTES",
    "RECENT_SECONDS",
    "Delivery",
    "MailStore",
    "MessageSummary",
    "address_of_mailbox",
    "mailbox_name",
]
