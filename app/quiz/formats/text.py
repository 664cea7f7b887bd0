"""Text as other quiz tools store it → the Markdown our quiz files hold.

Moodle keeps each text with a format: ``html``, ``moodle`` (HTML allowed, line breaks kept),
``plain`` or ``markdown``. Ours are CommonMark with raw HTML off, so HTML is translated into the
Markdown that shows the same (bold, italics, code, lists, links, paragraphs); what Markdown cannot
show (images, tables, colours) keeps its text and is named in the import's report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["SourceError", "decode_source", "escape_markdown", "from_format"]

#: Markdown's special characters anywhere in a line (CommonMark §2.4: any ASCII punctuation may be
#: backslash-escaped); ``&`` because ``&amp;`` would otherwise read as an entity.
MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>&])")
#: Characters that start a block only at the beginning of a line: headings, lists, quotes, rules.
MARKDOWN_LINE_STARTS = re.compile(r"^(\s*(?:\d+)?)(>|(?:[#+-]|(?<=\d)[.)])(?=\s|$))", re.MULTILINE)
HARD_BREAK = "\\\n"  # CommonMark §6.7: a backslash at the end of a line
HTML_TAG_OR_ENTITY = re.compile(r"<[A-Za-z/!]|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
LINE_BREAKS = re.compile(r"\r\n|\r|\n")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"


class SourceError(Exception):
    """A file that is not text we can read; ``line`` says where the reading stopped."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def decode_source(data: bytes) -> list[str]:
    """A file's lines: UTF-8 (a BOM is dropped) or UTF-16 with its BOM; CRLF, CR and LF line ends,
    mixed as editors leave them, each end one line."""
    if data.startswith(UTF16_BOMS):
        text = _decode(data, "utf-16")
    else:
        text = _decode(data.removeprefix(UTF8_BOM), "utf-8")
    if "\x00" in text:
        raise SourceError(text[: text.index("\x00")].count("\n") + 1, "binary data, not text")
    return LINE_BREAKS.split(text)


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex().upper()
        raise SourceError(
            line, f"not {encoding.upper()} text (byte 0x{byte}): save the file as UTF-8"
        ) from None


def escape_markdown(text: str) -> str:
    """Plain text as Markdown that shows exactly that text."""
    escaped = MARKDOWN_SPECIALS.sub(r"\\\1", text)
    return MARKDOWN_LINE_STARTS.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _kept_lines(markdown: str) -> str:
    """Line breaks as the source showed them (Moodle's ``moodle`` and ``plain`` formats keep
    them; in Markdown one line break is only a space)."""
    lines = [line.strip() for line in markdown.split("\n")]  # indentation shows as nothing
    return HARD_BREAK.join(lines).replace(HARD_BREAK + HARD_BREAK, "\n\n")


@dataclass(frozen=True)
class Converted:
    markdown: str
    #: What the Markdown cannot show, for the report: ``<img>``, ``<table>``…
    dropped: tuple[str, ...] = ()


def from_format(text: str, text_format: str) -> Converted:
    """Text in a Moodle format (``html``, ``moodle``, ``plain``, ``markdown``) as Markdown."""
    if text_format == "markdown":
        return Converted(text)
    if text_format == "html" or (text_format == "moodle" and HTML_TAG_OR_ENTITY.search(text)):
        return html_to_markdown(text, keep_line_breaks=text_format == "moodle")
    return Converted(_kept_lines(escape_markdown(text)))


# --- HTML → Markdown ------------------------------------------------------------------------------

INLINE_MARKS = {"b": "**", "strong": "**", "i": "*", "em": "*"}
CODE_TAGS = ("code", "tt", "kbd", "samp")
BLOCK_TAGS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table")
SILENT_TAGS = ("span", "font", "html", "body", "head", "meta", "tbody", "thead", "tr", "td", "th")
HIDDEN_TAGS = ("script", "style", "title")
SHOWN_AS_TEXT = ("img", "table", "sub", "sup", "u", "video", "audio", "iframe", "object", "svg")


@dataclass
class _MarkdownWriter(HTMLParser):
    keep_line_breaks: bool = False
    parts: list[str] = field(default_factory=list)
    dropped: dict[str, None] = field(default_factory=dict)
    lists: list[list[int]] = field(default_factory=list)  # per open list: [next number] or []
    links: list[str] = field(default_factory=list)
    code: int = 0
    pre: int = 0
    hidden: int = 0

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SHOWN_AS_TEXT:
            self.dropped[f"<{tag}>"] = None
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        elif tag in INLINE_MARKS:
            self.parts.append(INLINE_MARKS[tag])
        elif tag in CODE_TAGS and not self.pre:
            self.code += 1
            self.parts.append("`")
        elif tag == "pre":
            self.pre += 1
            self.parts.append("\n\n```\n")
        elif tag == "br":
            self.parts.append("\n" if self.pre else HARD_BREAK)
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")
            self.parts.append("[")
        elif tag in ("ul", "ol"):
            self.parts.append("" if self.lists else "\n\n")
            self.lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self.parts.append(self._bullet())
        elif tag in BLOCK_TAGS or tag in ("hr",):
            self.parts.append("\n\n")
        elif tag not in SILENT_TAGS and tag not in CODE_TAGS:
            self.dropped[f"<{tag}>"] = None

    def _bullet(self) -> str:
        indent = "   " * max(len(self.lists) - 1, 0)
        numbers = self.lists[-1] if self.lists else []
        if not numbers:
            return f"\n{indent}- "
        numbers[0] += 1
        return f"\n{indent}{numbers[0] - 1}. "

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in INLINE_MARKS:
            self.parts.append(INLINE_MARKS[tag])
        elif tag in CODE_TAGS and self.code:
            self.code -= 1
            self.parts.append("`")
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self.parts.append("\n```\n\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            self.parts.append(f"]({href})" if href else "]")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.parts.append("" if self.lists else "\n\n")
        elif tag in BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.pre or self.code:
            self.parts.append(data)
            return
        # HTML shows a run of white space as one space (and a line break too, but in "moodle")
        text = re.sub(r"[ \t]+" if self.keep_line_breaks else r"\s+", " ", escape_markdown(data))
        if text.startswith(" ") and self.parts and self.parts[-1].endswith((" ", "\n")):
            text = text[1:]
        self.parts.append(_kept_lines(text) if self.keep_line_breaks else text)

    def markdown(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"[ \t]*\n(?:[ \t]*\n)+", "\n\n", text)  # one blank line between blocks
        return text.strip()


def html_to_markdown(html: str, *, keep_line_breaks: bool = False) -> Converted:
    """The Markdown that shows what *html* shows, with the tags it could not keep."""
    writer = _MarkdownWriter(keep_line_breaks=keep_line_breaks)
    writer.feed(html)
    writer.close()
    return Converted(writer.markdown(), tuple(writer.dropped))
