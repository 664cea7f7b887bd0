"""Scripted faults: rules that make the capture server misbehave on purpose (``--faults FILE``).

A client's retry logic is only tested against a server that refuses, stalls and hangs up. The
rules (docs/capture.md) say at which stage of a session (``connect``, ``ehlo``, ``mail``,
``rcpt``, ``data``, ``end-of-data``), for which sender, recipient and peer, and on which
attempts to do what: reply with a code (451 greylisting, 421 and close, 452, 552, 554 …), wait,
or drop the connection. For example::

    seed: 7                      # makes `probability` repeatable
    rules:
      - name: greylist
        stage: rcpt
        recipient: "*@greylist.test"
        attempts: 1              # the first try of each peer, sender and recipient; later ones pass
        reply: 451 4.7.1 Greylisted, try again later
      - stage: end-of-data
        probability: 0.1
        drop: true

An *attempt* is counted per rule and per what the stage knows: the peer's address, the sender
and the recipients; the deliverer that comes back after a 451 makes attempt 2. Each rule that
fires is logged. This module is pure: the session (:mod:`app.capture.protocol`) asks
:meth:`Faults.match` at each stage and carries out the :class:`Fault` it gets.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.addresses import mailbox_key

__all__ = ["STAGES", "Fault", "Faults", "FaultsFileError", "Rule"]

log = logging.getLogger(__name__)

STAGES = ("connect", "ehlo", "mail", "rcpt", "data", "end-of-data")
#: What each stage knows of the envelope, and so which matches a rule for it may have.
_KNOWS = {
    "connect": (),
    "ehlo": (),
    "mail": ("sender",),
    "rcpt": ("sender", "recipient"),
    "data": ("sender", "recipient"),
    "end-of-data": ("sender", "recipient"),
}
RULE_KEYS = (
    "name",
    "stage",
    "sender",
    "recipient",
    "peer",
    "attempts",
    "probability",
    "reply",
    "delay",
    "drop",
    "close",
)
#: RFC 5321 §4.2: a reply is three digits, then text; a fault's is a refusal (4yz or 5yz).
_REPLY = re.compile(r"[45][0-5][0-9](?: [\x20-\x7e]*)?")
_ATTEMPTS = re.compile(r"(\d+)(?:\s*-\s*(\d*))?")
MAX_DELAY = 3600.0  # seconds: longer than any client waits (RFC 5321 §4.5.3.2: 10 minutes)


class FaultsFileError(ValueError):
    """A faults file that cannot be used: ``FILE:LINE: what is wrong``."""


@dataclass(frozen=True)
class Fault:
    """What a session does at a stage: wait *delay* seconds, then reply (and maybe close) or
    drop the connection; with neither, the command goes on as usual after the wait."""

    rule: str
    delay: float = 0.0
    reply: str | None = None
    drop: bool = False
    close: bool = False

    @property
    def closes(self) -> bool:
        """RFC 5321 §3.8: a 421 reply closes the connection; so do drops and ``close: true``."""
        return self.drop or self.close or (self.reply or "").startswith("421")


@dataclass(frozen=True)
class Rule:
    name: str
    stage: str
    fault: Fault
    delay_range: tuple[float, float] = (0.0, 0.0)
    sender: str | None = None  # a glob, case ignored; "" is the null reverse-path
    recipient: str | None = None
    peer: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    attempts: tuple[int, int | None] | None = None  # first, last (None: no end)
    probability: float = 1.0

    def matches(self, peer: str, sender: str | None, recipients: Sequence[str]) -> bool:
        if self.peer is not None and not _in_network(peer, self.peer):
            return False
        if self.sender is not None and not _glob(sender or "", self.sender):
            return False
        return self.recipient is None or any(_glob(r, self.recipient) for r in recipients)

    def on_attempt(self, attempt: int) -> bool:
        if self.attempts is None:
            return True
        first, last = self.attempts
        return attempt >= first and (last is None or attempt <= last)


def _glob(address: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(mailbox_key(address), pattern)


def _in_network(peer: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        address = ipaddress.ip_address(peer.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address in network


@dataclass
class Faults:
    """The rules of a faults file, with their attempt counts and a seeded random source."""

    rules: tuple[Rule, ...] = ()
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)
    _attempts: Counter[tuple[Any, ...]] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Every fault applied so far, as (rule name, stage, peer): for the log and for tests.
    applied: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @classmethod
    def from_file(cls, path: Path) -> Faults:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FaultsFileError(f"{path}: {exc.strerror or exc}") from None
        return parse_faults(data, str(path))

    def match(
        self, stage: str, peer: str, sender: str | None = None, recipients: Sequence[str] = ()
    ) -> Fault | None:
        """The fault to apply at *stage* for this session, if a rule fires (the first that does)."""
        key_recipients = tuple(sorted(map(mailbox_key, recipients)))
        key_sender = None if sender is None else mailbox_key(sender)
        with self._lock:
            for index, rule in enumerate(self.rules):
                if rule.stage != stage or not rule.matches(peer, sender, recipients):
                    continue
                self._attempts[index, peer, key_sender, key_recipients] += 1
                attempt = self._attempts[index, peer, key_sender, key_recipients]
                if not rule.on_attempt(attempt) or self._random.random() >= rule.probability:
                    continue
                fault = self._with_delay(rule)
                self.applied.append((rule.name, stage, peer))
                log.warning(
                    "fault %r at %s for %s (attempt %d): %s",
                    rule.name, stage, peer, attempt, describe(fault),
                )  # fmt: skip
                return fault
        return None

    def _with_delay(self, rule: Rule) -> Fault:
        low, high = rule.delay_range
        if low == high:
            return rule.fault
        return Fault(rule.name, self._random.uniform(low, high), *_rest(rule.fault))


def _rest(fault: Fault) -> tuple[str | None, bool, bool]:
    return fault.reply, fault.drop, fault.close


def describe(fault: Fault) -> str:
    done = [f"wait {fault.delay:g} s"] if fault.delay else []
    if fault.reply:
        done.append(f"reply {fault.reply!r}")
    if fault.drop:
        done.append("drop the connection")
    elif fault.closes:
        done.append("close the connection")
    return ", then ".join(done) or "nothing"


# --- reading a faults file -----------------------------------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    """Walks the YAML node tree so that every problem names its line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, message: str) -> FaultsFileError:
        return FaultsFileError(f"{self.source}:{_line(node)}: {message}")

    def mapping(self, node: Node, what: str, known: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} should be a mapping of keys to values")
        fields: dict[str, Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if name not in known:
                allowed = ", ".join(known)
                raise self.fail(key, f"unknown key {name!r} in {what}; the keys are: {allowed}")
            if name in fields:
                raise self.fail(key, f"{name} is given twice in {what}")
            fields[name] = value
        return fields

    def scalar(self, node: Node, what: str) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, f"{what} should be a single value")
        return yaml.constructor.SafeConstructor().construct_object(node)

    def text(self, node: Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(node, f"{what} should be text")
        return str(value)

    def number(self, node: Node, what: str, low: float, high: float) -> float:
        value = self.scalar(node, what)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not low <= value <= high:
            raise self.fail(node, f"{what} should be a number from {low:g} to {high:g}")
        return float(value)

    def flag(self, node: Node, what: str) -> bool:
        value = self.scalar(node, what)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} should be true or false")
        return value

    def rules(self, node: Node) -> tuple[Rule, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, "rules should be a list of rules (each starting with '- ')")
        return tuple(self.rule(item, number) for number, item in enumerate(node.value, 1))

    def rule(self, node: Node, number: int) -> Rule:
        fields = self.mapping(node, f"rule {number}", RULE_KEYS)
        if "stage" not in fields:
            raise self.fail(node, f"rule {number} needs a stage: one of {', '.join(STAGES)}")
        stage = self.text(fields["stage"], "stage")
        if stage not in STAGES:
            raise self.fail(fields["stage"], f"stage {stage!r} is not one of {', '.join(STAGES)}")
        for key in ("sender", "recipient"):
            if key in fields and key not in _KNOWS[stage]:
                raise self.fail(fields[key], f"the {stage} stage knows no {key} to match")
        name = self.text(fields["name"], "name") if "name" in fields else f"rule {number}"
        delay_range = self.delay(fields["delay"]) if "delay" in fields else (0.0, 0.0)
        fault = Fault(
            name,
            delay=delay_range[0],
            reply=self.reply(fields["reply"]) if "reply" in fields else None,
            drop=self.flag(fields["drop"], "drop") if "drop" in fields else False,
            close=self.flag(fields["close"], "close") if "close" in fields else False,
        )
        if fault.reply and fault.drop:
            raise self.fail(node, f"{name}: give reply or drop, not both")
        if not (fault.reply or fault.drop or delay_range[1]):
            raise self.fail(node, f"{name} does nothing: give it a reply, a delay or drop: true")
        return Rule(
            name,
            stage,
            fault,
            delay_range,
            sender=self.address_glob(fields["sender"], "sender") if "sender" in fields else None,
            recipient=self.address_glob(fields["recipient"], "recipient")
            if "recipient" in fields
            else None,
            peer=self.peer(fields["peer"]) if "peer" in fields else None,
            attempts=self.attempts(fields["attempts"]) if "attempts" in fields else None,
            probability=self.number(fields["probability"], "probability", 0, 1)
            if "probability" in fields
            else 1.0,
        )

    def reply(self, node: Node) -> str:
        reply = self.text(node, "reply").strip()
        if not _REPLY.fullmatch(reply):
            raise self.fail(node, f"reply {reply!r} should be a 4yz or 5yz code, then its text")
        return reply

    def delay(self, node: Node) -> tuple[float, float]:
        if isinstance(node, SequenceNode) and len(node.value) == 2:
            low, high = (self.number(n, "delay", 0, MAX_DELAY) for n in node.value)
            if low > high:
                raise self.fail(node, "delay [LOW, HIGH] needs LOW ≤ HIGH")
            return low, high
        seconds = self.number(node, "delay (seconds, or [LOW, HIGH])", 0, MAX_DELAY)
        return seconds, seconds

    def address_glob(self, node: Node, what: str) -> str:
        pattern = self.text(node, what).strip()
        return "" if pattern == "<>" else mailbox_key(pattern)

    def peer(self, node: Node) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        text = self.text(node, "peer")
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise self.fail(node, f"peer {text!r} is not an address or network") from None

    def attempts(self, node: Node) -> tuple[int, int | None]:
        text = self.text(node, "attempts").strip()
        found = _ATTEMPTS.fullmatch(text)
        if not found or int(found[1]) < 1 or (found[2] and int(found[2]) < int(found[1])):
            raise self.fail(node, f"attempts {text!r} should be N, N-M or N- (counted from 1)")
        first = int(found[1])
        if "-" not in text:
            return first, first
        return first, int(found[2]) if found[2] else None


def parse_faults(data: bytes, source: str = "<faults>") -> Faults:
    """The faults of a YAML file's bytes; FaultsFileError names the line of the first problem."""
    reader = _Reader(source)
    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}: " if mark is not None else " "
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FaultsFileError(f"{source}:{line}malformed YAML: {problem}") from None
    except RecursionError:
        raise FaultsFileError(f"{source}: malformed YAML: nested far too deep") from None
    if root is None:
        return Faults()
    fields = reader.mapping(root, "the faults file", ("seed", "rules"))
    seed = None
    if "seed" in fields:
        seed = int(reader.number(fields["seed"], "seed", 0, 2**32))
    rules = reader.rules(fields["rules"]) if "rules" in fields else ()
    return Faults(rules, seed)
