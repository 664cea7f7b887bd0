"""The protocol explained: SMTP dialogues annotated with the RFC sections behind each line.

Pure data and functions, no I/O: the web pages and the CLI only render what these return.

- :func:`explain` — the lines of a dialogue (``C: …`` / ``S: …``) → a list of :class:`Step`,
  each reply paired with the command it answers, pipelined groups numbered, the message data
  summarised, and every word carrying :class:`Note` s (meaning, :class:`Ref` to the section).
- :func:`format_steps` — the same as plain text, for a terminal.

The annotations themselves are data, in :mod:`app.explain.annotations`.
"""

from app.explain.dialogue import Line, Note, Step, explain, split_line
from app.explain.references import Ref
from app.explain.text import format_steps

__all__ = ["Line", "Note", "Ref", "Step", "explain", "format_steps", "split_line"]
