"""Quiz Markdown as plain text for a terminal: wrapped paragraphs, indented code blocks, bullets.

The web renders the same source as HTML (:func:`app.quiz.render_markdown`); here markdown-it's
tokens are walked instead, so what a terminal shows is the text a reader would see on the page:
emphasis marks dropped, inline code kept in backticks (it is what the reader types), a link as
its text and, when it differs, its address in brackets, code blocks indented four spaces and
never wrapped. Control characters in quiz text are shown as ``^[`` (:func:`app.words.visible`),
so a quiz file cannot drive the student's terminal.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from app.words import visible

__all__ = ["WIDTH", "plain_text"]

#: Columns of text: an 80-column terminal with room for the indent of options and reviews.
WIDTH = 72
CODE_INDENT = "    "
PLAIN_CACHE_SIZE = 4096  # every text and option of a few dozen quizzes, at a few indents

_MARKDOWN = MarkdownIt("commonmark", {"html": False})


@lru_cache(maxsize=PLAIN_CACHE_SIZE)
def plain_text(source: str, indent: str = "", first: str | None = None) -> str:
    """*source* (Markdown) as lines of at most :data:`WIDTH` columns, each begun with *indent*
    (the very first with *first* instead, for a hanging label such as ``a) ``)."""
    lines: list[str] = []
    for block in _blocks(_MARKDOWN.parse(source)):
        if lines and not block.continues:
            lines.append("")
        lead = first if first is not None and not lines else indent
        lines += block.lay_out(indent, lead)
    return "\n".join(line.rstrip() for line in lines) or (first or "").rstrip()


@lru_cache(maxsize=PLAIN_CACHE_SIZE)
def wrapped(text: str, indent: str = "") -> str:
    """Plain words (no Markdown) wrapped to :data:`WIDTH`, paragraph by paragraph."""
    return "\n".join(
        textwrap.fill(
            line,
            WIDTH,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )
        for line in text.split("\n")
    )


@dataclass(frozen=True)
class _Block:
    """A paragraph, heading, list item or code block, with the indent of its first line and of
    the others (a list item's marker hangs)."""

    text: str
    first: str = ""
    rest: str = ""
    code: bool = False
    continues: bool = False  # a list item following another: no blank line between

    def lay_out(self, indent: str, lead: str) -> list[str]:
        """The block's lines, the first begun with *lead* instead of *indent*."""
        if self.code:  # never wrapped; a label goes on a line of its own above it
            code = self.text.rstrip("\n").split("\n")
            kept = [indent + self.rest + CODE_INDENT + visible(line) for line in code]
            return kept if lead == indent else [lead.rstrip(), *kept]
        wrapper = textwrap.TextWrapper(
            WIDTH,
            initial_indent=lead + self.first,
            subsequent_indent=indent + self.rest,
            break_on_hyphens=False,
        )
        lines: list[str] = []
        for n, piece in enumerate(visible(self.text, keep="\n").split("\n")):  # hard breaks
            if n:
                wrapper.initial_indent = indent + self.rest
            lines += wrapper.wrap(piece) or [wrapper.initial_indent]
        return lines


def _blocks(tokens: list[Token]) -> list[_Block]:
    blocks: list[_Block] = []
    lists: list[list[int]] = []  # per open list: [next number], or [-1] for bullets
    marker: str | None = None  # the marker of a list item whose first paragraph comes next
    fresh = False  # no item of the list just opened has been laid out yet
    for token in tokens:
        depth = "   " * max(0, len(lists) - 1)
        if token.type in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1) if token.type == "ordered_list_open" else -1
            lists.append([start])
            fresh = True
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            marker = _next_marker(lists[-1])
        elif token.type == "inline":
            text = _inline(token.children or [])
            if marker is not None:
                first, rest = depth + marker, depth + " " * len(marker)
                blocks.append(_Block(text, first, rest, continues=not fresh))
                marker, fresh = None, False
            else:
                rest = depth + "   " * bool(lists)
                blocks.append(_Block(text, rest, rest))
        elif token.type in ("fence", "code_block"):
            blocks.append(_Block(token.content, rest=depth + "   " * bool(lists), code=True))
        elif token.type == "hr":
            blocks.append(_Block("-" * 20))
    return blocks


def _next_marker(counter: list[int]) -> str:
    if counter[0] < 0:
        return "-  "
    counter[0] += 1
    return f"{counter[0] - 1}. "


def _inline(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[str] = []
    for child in children:
        if child.type == "text":
            parts.append(child.content)
        elif child.type == "code_inline":
            parts.append(f"`{child.content}`")
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "link_open":
            links.append(str(child.attrGet("href") or ""))
            parts.append("\0")  # where the link's text begins
        elif child.type == "link_close":
            _close_link(parts, links.pop())
        elif child.type == "image":
            parts.append(child.content or "")
    return "".join(parts)


def _close_link(parts: list[str], href: str) -> None:
    start = len(parts) - 1 - parts[::-1].index("\0")
    text = "".join(parts[start + 1 :])
    del parts[start:]
    parts.append(text if not href or href in (text, f"mailto:{text}") else f"{text} ({href})")
