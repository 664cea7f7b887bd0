"""Opportunistic STARTTLS for mail sent straight to an exchanger (RFC 3207, RFC 7435).

Between MTAs, TLS is used when the server offers it and plaintext when it does not (RFC 3207
§4: a publicly-referenced server must not require it). Nothing in DNS says which certificate an
MX host should show, so by default the certificate is *not* verified: encryption against a
passive eavesdropper, no protection against an active one. That is what MTA-STS (RFC 8461) and
DANE (RFC 7672) add, by publishing the policy in DNS or over HTTPS; QuizMail implements neither.
``verify=True`` checks the chain and the MX host's name (not the address dialled), and a
certificate that fails is a TLS error like any other.
"""

from __future__ import annotations

import functools
import socket
import ssl
from typing import Any

from app.smtp.client import SMTPClient

__all__ = ["OpportunisticClient", "opportunistic_context"]


@functools.cache
def opportunistic_context(*, verify: bool) -> ssl.SSLContext:
    """The TLS context for an exchanger: verified against the system's CAs, or not at all.

    One per process: loading the CA bundle takes tens of milliseconds, more than a whole
    delivery to a nearby host, and a context may serve many connections at once.
    """
    if verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # TLS 1.2+, no CA bundle to load
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class OpportunisticClient(SMTPClient):
    """An :class:`SMTPClient` that says STARTTLS when the EHLO reply offers it, else goes on.

    *host* is the address dialled; *tls_name* the exchanger's name, sent as SNI and checked
    against the certificate when *verify*.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        tls_name: str | None = None,
        verify: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        context = ssl_context or opportunistic_context(verify=verify)
        super().__init__(host, port, security="none", ssl_context=context, **options)
        self.tls_name = tls_name or host

    def connect(self) -> None:
        super().connect()
        if "STARTTLS" not in self.extensions:
            return
        try:
            self._start_tls()
        except BaseException:
            self.close()
            raise

    def _wrap_tls(self, sock: socket.socket) -> ssl.SSLSocket:
        # The certificate names the exchanger, not the address we reached it at.
        dialled, self.host = self.host, self.tls_name
        try:
            return super()._wrap_tls(sock)
        finally:
            self.host = dialled
