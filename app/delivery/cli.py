"""The direct delivery parts of the ``quizmail`` command: ``quizmail mx`` and ``send --direct``.

``quizmail mx DOMAIN…`` prints what ``nslookup -type=MX`` would, then what QuizMail would do
with mail for the domain: the hosts in the order it would try them, or why there are none.
``quizmail send --direct`` sends one message straight to each recipient's MX hosts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from app.config import ENV_PREFIX, from_environment
from app.words import visible

if TYPE_CHECKING:  # imported by the commands: `quizmail --help` needs no DNS library
    from pathlib import Path

    from app.delivery.direct import DirectOptions, DirectResult
    from app.delivery.mx import Exchanger, MXRecord, Route, RouteError

__all__ = ["mx_command", "send_direct_command"]

#: Seconds for each DNS question of ``quizmail mx`` (as app.delivery.mx.LOOKUP_SECONDS).
MX_LOOKUP_SECONDS = 5.0

#: ``quizmail mx`` exit statuses: every domain can take mail / some cannot / a look-up failed.
ROUTED, NO_ROUTE, LOOKUP_FAILED = 0, 1, 2


def _resolver(dns_servers: Sequence[str], timeout: float) -> Any:
    from app.delivery.mx import make_resolver

    servers = [s for given in dns_servers for s in given.split(",") if s.strip()]
    try:
        return make_resolver(servers, lifetime=timeout) if servers else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dns-server") from None


@click.command("mx")
@click.argument("domains", nargs=-1, required=True)
@click.option(
    "--dns-server",
    "dns_servers",
    multiple=True,
    metavar="IP[:PORT]",
    envvar=f"{ENV_PREFIX}_DNS_SERVERS",
    help="Ask this DNS server (repeat, or comma-separated); default: /etc/resolv.conf's.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=600),
    default=MX_LOOKUP_SECONDS,
    show_default=True,
    help="Seconds for each DNS question.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per domain, a list.")
def mx_command(
    domains: tuple[str, ...], dns_servers: tuple[str, ...], timeout: float, as_json: bool
) -> None:
    """Show where mail for each DOMAIN goes: its MX records (as nslookup -type=MX shows them)
    and the hosts QuizMail would try, in order (RFC 5321 §5.1, RFC 7505).

    Exit status 0: every domain takes mail; 1: some domain takes none (NXDOMAIN, null MX, no
    usable host, a bad name); 2: a look-up failed for now (SERVFAIL, no answer).
    """
    from app.delivery.mx import RouteError

    resolver = _resolver(dns_servers, timeout)
    found = [_look_up(domain, resolver) for domain in domains]
    if as_json:
        click.echo(
            json.dumps(
                [_as_json(domain, f) for domain, f in zip(domains, found, strict=True)],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        click.echo("\n\n".join(_as_text(d, f) for d, f in zip(domains, found, strict=True)))
    errors = [f for f in found if isinstance(f, RouteError)]
    if any(not e.permanent for e in errors):
        sys.exit(LOOKUP_FAILED)
    sys.exit(NO_ROUTE if errors else ROUTED)


def _look_up(domain: str, resolver: Any) -> Route | RouteError:
    from app.delivery.mx import RouteError, route

    try:
        return route(domain, resolver)
    except RouteError as exc:
        return exc


def _as_text(domain: str, found: Route | RouteError) -> str:
    from app.delivery.direct import describe_route
    from app.delivery.mx import RouteError

    shown = visible(domain[:200])
    records = found.records
    lines = [f"{shown}\tmail exchanger = {_record_text(r)}" for r in records]
    if isinstance(found, RouteError):
        if not records:
            lines.append(f"** can't find MX records for {shown}")
        lines.append(
            f"QuizMail: no delivery, {'for good' if found.permanent else 'for now'}: {found.reply}"
        )
        lines.extend(_exchanger_lines(found.exchangers))
        return "\n".join(lines)
    if found.verdict == "implicit":
        lines.append(f"*** {shown} has no MX records")
    lines.append(f"QuizMail: {describe_route(found)}")
    lines.extend(_exchanger_lines(found.exchangers))
    lines.extend(f"  note: {note}" for note in found.notes)
    return "\n".join(lines)


def _record_text(record: MXRecord) -> str:
    return f"{record.preference} {record.exchange or ''}."


def _exchanger_lines(exchangers: Sequence[Exchanger]) -> list[str]:
    lines: list[str] = []
    for number, e in enumerate(exchangers, start=1):
        preference = "" if e.preference is None else f" (preference {e.preference})"
        addresses = ", ".join(e.addresses) or "not tried: no address"
        lines.append(f"  {number}. {e.name}{preference}: {addresses}")
        lines.extend(f"     note: {note}" for note in e.notes)
    return lines


def _as_json(domain: str, found: Route | RouteError) -> dict[str, Any]:
    records = [{"preference": r.preference, "exchange": r.exchange + "."} for r in found.records]
    exchangers = [
        {
            "host": e.name,
            "preference": e.preference,
            "addresses": list(e.addresses),
            "notes": list(e.notes),
        }
        for e in found.exchangers
    ]
    from app.delivery.mx import RouteError

    if isinstance(found, RouteError):
        verdict = "no-route" if found.permanent else "try-later"
        return {
            "domain": domain,
            "records": records,
            "verdict": verdict,
            "reply": found.reply,
            "hosts": exchangers,
        }
    return {
        "domain": domain,
        "ascii_domain": found.ascii_domain,
        "records": records,
        "verdict": found.verdict,
        "hosts": exchangers,
        "notes": list(found.notes),
    }


# --- quizmail send --direct -----------------------------------------------------------------------


def send_direct_command(
    *,
    server: str | None,
    direct: bool,
    security: str,
    user: str | None,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str | None,
    body_file: Path | None,
    timeout: float,
    verbose: bool,
    explain: bool = False,
    **_relay_only: object,
) -> NoReturn:
    """``quizmail send --direct``: the message built as ``send`` builds it, sent straight to each
    recipient's domain; exits with :func:`send_direct`'s status. Takes ``send``'s parameters."""
    from app.cli import read_body, send_failed
    from app.mail import build_message

    try:
        if not direct:
            raise ValueError("give --server HOST[:PORT] (a relay) or --direct (the MX hosts)")
        if server is not None:
            raise ValueError("give --server HOST[:PORT] for a relay, or --direct, not both")
        if security != "none" or user is not None:
            raise ValueError(
                "--direct uses STARTTLS whenever the MX host offers it and never logs in: "
                "--security and --user are for a relay"
            )
        options = direct_options(timeout)
        text = read_body(body, body_file)
        message = build_message(sender=sender, to=list(recipients), subject=subject, text=text)
    except (ValueError, OSError) as exc:
        send_failed(exc, None, verbose)
    sys.exit(send_direct(message, sender, recipients, options, verbose=verbose, explain=explain))


def direct_options(timeout: float) -> DirectOptions:
    """The options of ``send --direct`` from ``QUIZMAIL_MX_PORT``, ``_DNS_SERVERS``,
    ``_MX_VERIFY_TLS`` (the same settings as the web app's)."""
    from app.delivery.direct import DirectOptions
    from app.delivery.mx import make_resolver

    settings = from_environment(os.environ)
    servers = [s for s in (settings.get("DNS_SERVERS") or "").split(",") if s.strip()]
    port = settings.get("MX_PORT", 25)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"QUIZMAIL_MX_PORT must be a port from 1 to 65535, not {port!r}")
    try:
        resolver = make_resolver(servers) if servers else None
    except ValueError as exc:
        raise ValueError(f"QUIZMAIL_DNS_SERVERS: {exc}") from None
    verify = bool(settings.get("MX_VERIFY_TLS", False))
    return DirectOptions(port=port, resolver=resolver, timeout=timeout, verify_tls=verify)


def send_direct(
    message: bytes,
    sender: str,
    recipients: Sequence[str],
    options: DirectOptions,
    *,
    verbose: bool,
    explain: bool = False,
) -> int:
    """Send straight to each recipient's domain and report each; the exit status to use.

    0: every recipient took it; 1: some did not (refused, or not reached: try again later);
    2: none took it.
    """
    from app.delivery.direct import deliver_direct

    (result,) = deliver_direct([(message, sender, list(recipients))], options)
    if verbose:
        from app.cli import print_dialogue

        print_dialogue(result.transcript, explain)
    _report(result)
    sent = result.addresses("sent")
    if len(sent) == len(result.recipients):
        return 0
    return 1 if sent else 2


def _report(result: DirectResult) -> None:
    for domain in result.domains:
        by_state: dict[str, list[str]] = {}
        for address, outcome in domain.recipients.items():
            by_state.setdefault(outcome.state, []).append(address)
        for address in by_state.get("failed", []):
            click.echo(f"refused <{address}>: {domain.recipients[address].reply}", err=True)
        for address in by_state.get("queued", []):
            reply = domain.recipients[address].reply
            click.echo(f"not sent to <{address}> (try again later): {reply}", err=True)
        if sent := by_state.get("sent"):
            first = domain.recipients[sent[0]]
            click.echo(f"sent to {', '.join(sent)} via {first.host}: {first.reply}")
