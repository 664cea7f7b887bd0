"""Mail sent straight to each recipient's domain: MX resolution (RFC 5321 §5.1, RFC 7505) and
the driver that delivers over :class:`app.smtp.SMTPClient`, one connection per domain."""
