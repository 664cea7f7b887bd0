"""Explained steps as plain text, for a terminal: each line, then its notes indented under it."""

from __future__ import annotations

from collections.abc import Iterable

from app.explain.dialogue import Line, Note, Step

INDENT = "     "


def format_steps(steps: Iterable[Step]) -> list[str]:
    """The lines to print. A pipelined group is announced once, before its first command; after
    that each command is followed by the reply that answers it, not by the next line sent."""
    out: list[str] = []
    announced: set[int] = set()
    for step in steps:
        if step.group is not None and step.group not in announced:
            announced.add(step.group)
            out.append(
                f"-- pipelined group {step.group}: {step.notes[0].meaning} [{step.notes[0].ref}]"
            )
        for line in step.command:
            out.extend(_line(line))
        for line in step.reply:
            out.extend(_line(line))
        notes = step.notes[1:] if step.group is not None else step.notes
        out.extend(INDENT + _note(note) for note in notes)
    return out


def _line(line: Line) -> list[str]:
    head = line.text if line.side == "note" else f"{line.side}: {line.text}"
    return [head, *(INDENT + _note(note) for note in line.notes)]


def _note(note: Note) -> str:
    mark = "=" if note.known else "?"
    where = f" [{note.ref}]" if note.ref else ""
    return f"{mark} {note.term}: {note.meaning}{where}"
