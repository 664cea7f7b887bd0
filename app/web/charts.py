"""The geometry of the gradebook's two pictures, drawn as inline SVG by the templates.

Pure numbers → coordinates: a histogram of scores and a facility × discrimination scatter. The
templates add the words (a title, a description and a table with the same numbers), so that a
screen reader, or a page printed without its pictures, loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.item_analysis import QuestionAnalysis, histogram

__all__ = ["Bar", "Histogram", "Point", "Scatter", "histogram_chart", "scatter_chart"]

WIDTH, HEIGHT = 480, 240  # the viewBox: the SVG scales to the page's width
LEFT, BOTTOM, TOP, RIGHT = 44, 36, 12, 12  # room for the axes' labels


@dataclass(frozen=True)
class Bar:
    label: str  # "40–50 %"
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Histogram:
    bars: tuple[Bar, ...]
    highest: int  # the count at the top of the axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    top: int = TOP


def histogram_chart(scores: tuple[float, ...]) -> Histogram:
    counts = histogram(scores)
    highest = max(*counts, 1)
    step = (WIDTH - LEFT - RIGHT) / len(counts)
    plot_height = HEIGHT - TOP - BOTTOM
    bars = []
    for band, count in enumerate(counts):
        height = plot_height * count / highest
        low = 100 * band // len(counts)
        label = f"{low}–{low + 100 // len(counts)} %"
        bars.append(
            Bar(label, count, LEFT + band * step + 2, HEIGHT - BOTTOM - height, step - 4, height)
        )
    return Histogram(tuple(bars), highest)


@dataclass(frozen=True)
class Point:
    question_id: str
    number: int  # the question's row in the table
    facility: float
    discrimination: float
    x: float
    y: float


@dataclass(frozen=True)
class Scatter:
    points: tuple[Point, ...]
    left_out: tuple[str, ...]  # questions without a discrimination index
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    def x(self, facility: float) -> float:
        return self.left + (self.right - self.left) * facility / 100

    def y(self, discrimination: float) -> float:
        """Discrimination from −100 (bottom) to 100 (top)."""
        return self.bottom - (self.bottom - self.top) * (discrimination + 100) / 200


def scatter_chart(questions: tuple[QuestionAnalysis, ...]) -> Scatter:
    frame = Scatter((), ())
    points = tuple(
        Point(
            q.question_id,
            n,
            q.facility,
            q.discrimination,
            frame.x(q.facility),
            frame.y(q.discrimination),
        )
        for n, q in enumerate(questions, start=1)
        if q.facility is not None and q.discrimination is not None
    )
    left_out = tuple(q.question_id for q in questions if q.discrimination is None)
    return Scatter(points, left_out)
