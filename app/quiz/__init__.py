"""The quiz domain, pure Python (never imports flask): models, the YAML loader and grading.

Errors: :class:`QuizFileError` (a quiz file that cannot be loaded) carries ``problems``, a list of
:class:`Problem` (path, line, message); nothing else in this package raises for bad input.
"""

from app.quiz.catalog import QuizCatalog
from app.quiz.grading import grade, new_attempt, question_points
from app.quiz.loader import (
    Problem,
    QuizFileError,
    format_duration,
    load_quiz,
    load_quizzes,
    quiz_files,
)
from app.quiz.markup import render_markdown
from app.quiz.models import (
    OUTCOME_LABELS,
    Attempt,
    Option,
    Outcome,
    Question,
    QuestionResult,
    Quiz,
    Result,
    ReviewAnswers,
)

__all__ = [
    "OUTCOME_LABELS",
    "Attempt",
    "Option",
    "Outcome",
    "Problem",
    "Question",
    "QuestionResult",
    "Quiz",
    "QuizCatalog",
    "QuizFileError",
    "Result",
    "ReviewAnswers",
    "format_duration",
    "grade",
    "load_quiz",
    "load_quizzes",
    "new_attempt",
    "question_points",
    "quiz_files",
    "render_markdown",
]
