"""A finding (one rule broken, where and how often) and the report of one session's check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.conformance.rules import RULES, Rule

__all__ = ["MAX_LINES_NAMED", "Finding", "Findings", "Report"]

#: A finding names the first lines it was seen on, up to this many, and counts the rest.
MAX_LINES_NAMED = 10


@dataclass(frozen=True, slots=True)
class Finding:
    """*rule* broken *count* times; *what* says how, in the session's own terms. *lines* are
    line numbers (1-based) of the dialogue; *message* the message (1-based), if it is about one."""

    rule: Rule
    what: str
    count: int = 1
    lines: tuple[int, ...] = ()
    message: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.code,
            "level": self.rule.level,
            "reference": self.rule.reference,
            "url": self.rule.url,
            "says": self.rule.says,
            "what": self.what,
            "count": self.count,
            "lines": list(self.lines),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """The findings of one session, MUSTs first, and what the check could not know."""

    findings: tuple[Finding, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def must(self) -> int:
        return sum(1 for f in self.findings if f.rule.level == "MUST")

    @property
    def should(self) -> int:
        return sum(1 for f in self.findings if f.rule.level == "SHOULD")

    def to_json(self) -> dict[str, Any]:
        return {
            "must": self.must,
            "should": self.should,
            "findings": [finding.to_json() for finding in self.findings],
            "unknown": list(self.unknown),
        }


@dataclass
class _Entry:
    what: str
    message: int | None
    count: int = 0
    lines: list[int] = field(default_factory=list)


class Findings:
    """Collects findings as the checks go: the same rule broken the same way is one finding."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, int | None], _Entry] = {}
        self.unknown: list[str] = []

    def add(
        self, code: str, what: str, line: int | None = None, message: int | None = None
    ) -> None:
        entry = self._entries.setdefault((code, what, message), _Entry(what, message))
        entry.count += 1
        if line is not None and len(entry.lines) < MAX_LINES_NAMED and line not in entry.lines:
            entry.lines.append(line)

    def cannot_know(self, text: str) -> None:
        if text not in self.unknown:
            self.unknown.append(text)

    def report(self) -> Report:
        findings = [
            Finding(RULES[code], e.what, e.count, tuple(e.lines), e.message)
            for (code, _, _), e in self._entries.items()
        ]
        findings.sort(key=lambda f: (f.rule.level != "MUST", f.lines[:1] or (0,)))
        return Report(tuple(findings), tuple(self.unknown))
