"""Markdown in quiz text → safe HTML (CommonMark, raw HTML off), cached per source string."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML is off: a quiz author's `<script>` is shown as text, never run.
# markdown-it-py's validateLink refuses javascript:, vbscript:, file: and most data: URLs.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
MARKDOWN_CACHE_SIZE = 4096  # every text and option of a few dozen quizzes


@lru_cache(maxsize=MARKDOWN_CACHE_SIZE)
def render_markdown(source: str) -> Markup:
    """Block Markdown as HTML; a lone paragraph is unwrapped so it fits inside a label."""
    html = _MARKDOWN.render(source).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)  # safe: markdown-it escapes all text and raw HTML is disabled
