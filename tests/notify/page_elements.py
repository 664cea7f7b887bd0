"""Elements of a page by id, as a browser's DOM would find them: tag, attributes, text inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"input", "br", "meta", "link", "img", "hr"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def descendants(self) -> list[Element]:
        """Every element inside this one, in document order."""
        return [found for child in self.children for found in (child, *child.descendants())]

    def find_all(self, tag: str) -> list[Element]:
        return [element for element in self.descendants() if element.tag == tag]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, Element] = {}
        self.forms: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        if self._open:
            self._open[-1].children.append(element)
        if element.get("id"):
            self.by_id[str(element.get("id"))] = element
        if tag == "form":
            self.forms.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def elements(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser


def words(text: str) -> str:
    """Text as read: runs of white space as one space."""
    return " ".join(text.split())
