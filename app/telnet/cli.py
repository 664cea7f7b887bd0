"""``quizmail telnet``: the quiz over telnet, nc or socat, on its own (the demo runs it too)."""

from __future__ import annotations

import click

from app.config import DEFAULT_TELNET_PORT
from app.pop3.cli import PORT

__all__ = ["telnet_command"]


@click.command("telnet")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="QUIZMAIL_TELNET_HOST",
    help="Address to listen on (loopback unless you mean otherwise).",
)
@click.option(
    "--port",
    default=DEFAULT_TELNET_PORT,
    show_default=True,
    type=PORT,
    envvar="QUIZMAIL_TELNET_PORT",
)
def telnet_command(host: str, port: int) -> None:
    """Serve the quizzes over telnet: `telnet HOST PORT` or `nc HOST PORT` to take one.

    The quizzes, secret key, relay, outbox and email limits are the web app's (QUIZMAIL_*).
    """
    import logging

    from app import create_app
    from app.serve import ServiceError, run_services
    from app.telnet import telnet_server

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    service = telnet_server(create_app().config, host, port)
    try:
        run_services([service], lambda: click.echo(f"{service.name}; Ctrl-C stops.", nl=True))
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
