"""TLS for the capture server: the server's context, and a local CA for the demo's certificate.

``server_context`` loads a certificate chain and key given on the command line. ``LocalCA``
makes, on first use, a certificate authority and a server certificate signed by it under one
directory (``var/tls/`` in the demo), so that STARTTLS and implicit TLS work with verification
on: the clients are told to trust ``ca.pem`` (``trust.pem`` holds it with the system's
authorities, for clients that also talk to real servers). Nothing here touches a socket.

Layout::

    DIR/ca.pem            the local CA's certificate: what clients trust
    DIR/ca-key.pem        its key (0600), kept to sign a new server certificate when names change
    DIR/server.pem        the server's certificate, then the CA's (a chain)
    DIR/server-key.pem    the server's key (0600)
    DIR/trust.pem         the system's CA bundle followed by ca.pem (for SSL_CERT_FILE)
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.durable import replace_durably as _write

__all__ = ["LocalCA", "TLSConfigError", "default_names", "server_context"]

#: A lab server's certificate outlives a course; the CA a few of them.
SERVER_DAYS = 398  # the longest validity browsers accept for a server certificate (CA/B Forum)
CA_DAYS = 10 * 365
#: The names every local certificate carries, so that loopback clients verify it.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


class TLSConfigError(ValueError):
    """A certificate or key that cannot be used; the message names the file and why."""


def server_context(cert: Path, key: Path | None = None) -> ssl.SSLContext:
    """The server-side context for STARTTLS and implicit TLS from a PEM chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"cannot load the TLS certificate {cert}: {exc}") from exc
    return context


def default_names(*hosts: str) -> list[str]:
    """Loopback, this machine's names and the given listening addresses (wildcards left out)."""
    names = [*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn(), *hosts]
    wanted = (name for name in names if name and name not in ("0.0.0.0", "::"))
    return list(dict.fromkeys(wanted))


def _subject_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class LocalCA:
    """A certificate authority of our own under *directory*, and the server certificate it signs.

    ``ensure(names)`` makes whatever is missing (the CA once; the server certificate again when
    it lacks one of *names* or is near its end) and returns itself.
    """

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def trust(self) -> Path:
        return self.directory / "trust.pem"

    def ensure(self, names: Iterable[str]) -> LocalCA:
        wanted = list(dict.fromkeys(names))
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.ca_cert.exists() and self.ca_key.exists()):
            self._make_ca()
        if not self._server_cert_covers(wanted):
            self._make_server_cert(wanted)
        self._write_trust()
        return self

    def server_context(self) -> ssl.SSLContext:
        return server_context(self.cert, self.key)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (and checks host names)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def _make_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "QuizMail local CA")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write(self.ca_key, _pem_key(key), mode=0o600)
        _write(self.ca_cert, certificate.public_bytes(serialization.Encoding.PEM))

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        certificate = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return certificate, key

    def _server_cert_covers(self, names: list[str]) -> bool:
        if not (self.cert.exists() and self.key.exists()):
            return False
        try:
            certificate = x509.load_pem_x509_certificate(self.cert.read_bytes())
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except (ValueError, x509.ExtensionNotFound):
            return False
        left = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
        return left > datetime.timedelta(days=30) and all(
            _subject_name(name) in san.value for name in names
        )

    def _make_server_cert(self, names: list[str]) -> None:
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_subject_name(n) for n in names]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        _write(self.key, _pem_key(key), mode=0o600)
        _write(self.cert, certificate.public_bytes(pem) + ca_cert.public_bytes(pem))

    def _write_trust(self) -> None:
        system = ssl.get_default_verify_paths().cafile
        bundle = Path(system).read_bytes() if system and Path(system).is_file() else b""
        data = bundle.rstrip(b"\n") + b"\n" + self.ca_cert.read_bytes() if bundle else b""
        data = data or self.ca_cert.read_bytes()
        if not self.trust.exists() or self.trust.read_bytes() != data:
            _write(self.trust, data)
