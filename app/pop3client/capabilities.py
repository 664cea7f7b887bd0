"""What a server says it can do: the CAPA listing (RFC 2449 §5, §6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Capabilities:
    """Capability keywords (upper case) and their arguments. Empty before CAPA, and when the
    server does not know CAPA (an RFC 1939 server answers -ERR): then nothing optional is used."""

    offered: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Capabilities:
        offered: dict[str, tuple[str, ...]] = {}
        for line in lines:
            words = line.split()
            if words:
                offered[words[0].upper()] = tuple(words[1:])
        return cls(offered)

    def __contains__(self, keyword: object) -> bool:
        return isinstance(keyword, str) and keyword.upper() in self.offered

    @property
    def pipelining(self) -> bool:
        """RFC 2449 §6.6: commands may be sent in groups, without waiting for each response."""
        return "PIPELINING" in self

    @property
    def stls(self) -> bool:
        return "STLS" in self  # RFC 2595 §4

    @property
    def keywords(self) -> frozenset[str]:
        return frozenset(self.offered)

    def arguments(self, keyword: str) -> tuple[str, ...]:
        return self.offered.get(keyword.upper(), ())
