"""Where a rule is written: a document, a section of it, and the address that opens it there."""

from __future__ import annotations

from dataclasses import dataclass

RFC_EDITOR = "https://www.rfc-editor.org/rfc/rfc{number}"


@dataclass(frozen=True, slots=True)
class Ref:
    """A document and, when there is one, a section: ``RFC 5321 §4.1.1.1`` and its URL."""

    document: str
    section: str | None
    url: str

    @property
    def label(self) -> str:
        return f"{self.document} §{self.section}" if self.section else self.document

    def __str__(self) -> str:
        return self.label


def rfc(number: int, section: str | None = None) -> Ref:
    """RFC *number*, at *section* ("4.1.1.1", or "F.1" for an appendix), on rfc-editor.org."""
    url = RFC_EDITOR.format(number=number)
    if section:
        kind = "appendix" if section[0].isalpha() else "section"
        url += f"#{kind}-{section}"
    return Ref(f"RFC {number}", section, url)


def document(title: str, url: str) -> Ref:
    """A specification that is not an RFC (a vendor's extension), named by its title."""
    return Ref(title, None, url)
