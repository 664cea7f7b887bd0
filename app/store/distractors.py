"""Distractor analysis: who chose each option of a question, overall and in the top and bottom
third of total scores, and the three things Moodle's report asks an instructor to check.

Options are told apart by their text (results.json names them so), which is the same option
in every attempt of one quiz version, however the options were shuffled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "FLAG_NEVER_CHOSEN",
    "FLAG_STRONG_DISTRACTOR",
    "FLAG_WEAK_KEY",
    "OptionAnalysis",
    "Thirds",
    "option_analyses",
    "tally",
    "thirds_of",
]

FLAG_NEVER_CHOSEN = "nobody chose it"
FLAG_STRONG_DISTRACTOR = "a wrong option the top third chose more than the bottom third"
FLAG_WEAK_KEY = "a right option the bottom third chose more than the top third"


@dataclass(frozen=True)
class OptionAnalysis:
    text: str  # Markdown source, as in the quiz file
    correct: bool | None  # None: the quiz holds its answers back and its file is gone
    chosen: int
    shown: int
    top_share: float | None  # percent of the top third shown the question that chose it
    bottom_share: float | None
    flags: tuple[str, ...]

    @property
    def share(self) -> float:
        return 100 * self.chosen / self.shown if self.shown else 0.0


@dataclass(frozen=True)
class Thirds:
    attempts: int  # of the version
    top: frozenset[int]  # attempt indexes
    bottom: frozenset[int]


def thirds_of(scores: list[float]) -> Thirds | None:
    """The top and bottom third of attempts by score (ties in the order attempts were made)."""
    size = len(scores) // 3
    if size == 0:
        return None
    ranked = sorted(range(len(scores)), key=lambda i: scores[i])
    return Thirds(len(scores), frozenset(ranked[-size:]), frozenset(ranked[:size]))


def option_analyses(
    options: Sequence[tuple[str, bool | None]],
    counts: Counter[str],
    attempts: Sequence[int],
    chosen: Sequence[tuple[str, ...]],
    thirds: Thirds | None,
) -> tuple[OptionAnalysis, ...]:
    """*options* (text, right or not) of a question shown in *attempts* (indexes, each with
    what it *chose*; *counts* tallies those choices)."""
    groups = _group_counts(attempts, chosen, thirds)
    return tuple(
        _option(text, correct, counts[text], len(attempts), groups) for text, correct in options
    )


@dataclass(frozen=True)
class _Groups:
    top_shown: int
    bottom_shown: int
    top: Counter[str]
    bottom: Counter[str]


def _group_counts(
    attempts: Sequence[int], chosen: Sequence[tuple[str, ...]], thirds: Thirds | None
) -> _Groups | None:
    if thirds is None:
        return None
    if len(attempts) == thirds.attempts:  # shown to all: positions are attempt indexes
        top = [chosen[i] for i in thirds.top]
        bottom = [chosen[i] for i in thirds.bottom]
    else:
        shown = list(zip(attempts, chosen, strict=True))
        top = [picked for index, picked in shown if index in thirds.top]
        bottom = [picked for index, picked in shown if index in thirds.bottom]
    return _Groups(len(top), len(bottom), tally(top), tally(bottom))


def tally(chosen: Iterable[tuple[str, ...]]) -> Counter[str]:
    """How many attempts chose each option, from what each chose: the few distinct choices are
    counted first (a tuple is one hash), then spread over their options."""
    counts: Counter[str] = Counter()
    for options, times in Counter(chosen).items():
        for option in options:
            counts[option] += times
    return counts


def _option(
    text: str, correct: bool | None, chosen: int, shown: int, groups: _Groups | None
) -> OptionAnalysis:
    top_share = bottom_share = None
    if groups is not None and groups.top_shown and groups.bottom_shown:
        top_share = 100 * groups.top[text] / groups.top_shown
        bottom_share = 100 * groups.bottom[text] / groups.bottom_shown
    flags = []
    if chosen == 0:
        flags.append(FLAG_NEVER_CHOSEN)
    if top_share is not None and bottom_share is not None:
        if correct is False and top_share > bottom_share:
            flags.append(FLAG_STRONG_DISTRACTOR)
        if correct is True and bottom_share > top_share:
            flags.append(FLAG_WEAK_KEY)
    return OptionAnalysis(text, correct, chosen, shown, top_share, bottom_share, tuple(flags))
