"""Outbox messages delivered straight to their recipients' domains, each resolved per recipient.

The bridge between :mod:`app.outbox` and :func:`app.delivery.direct.deliver_direct`: claimed
messages go out together (one connection per domain for all of them), and each claim is settled
by its recipients' outcomes, so that a retry goes only to the recipients still waiting.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.delivery.direct import DirectOptions, DirectResult, deliver_direct
from app.outbox import Claim, Delivery, OutboxRecord

__all__ = ["deliver_claims", "deliveries_of"]


def deliver_claims(claims: Sequence[Claim], options: DirectOptions) -> list[OutboxRecord]:
    """Try each of *claims*' messages once, directly; every claim is resolved."""
    items = [(c.message, c.record.sender, c.record.recipients) for c in claims]
    results = deliver_direct(items, options)
    return [
        claim.settle(deliveries_of(result), transcript=result.transcript)
        for claim, result in zip(claims, results, strict=True)
    ]


def deliveries_of(result: DirectResult) -> dict[str, Delivery]:
    """Each recipient's outcome as the outbox stores it."""
    stored: dict[str, Delivery] = {}
    for address, outcome in result.recipients.items():
        delivery = {"state": outcome.state, "reply": outcome.reply}
        if outcome.host:
            delivery["host"] = outcome.host
        stored[address] = delivery
    return stored
