"""Other tools' question files ↔ our quizzes: Moodle's GIFT (import and export) and Aiken
(import). Pure functions of bytes; the ``quizmail import`` and ``export`` commands drive them."""

from app.quiz.formats.aiken import read_aiken
from app.quiz.formats.draft import Conversion, QuizFile, quiz_file, quiz_id_from
from app.quiz.formats.gift import read_gift, write_gift

__all__ = [
    "Conversion",
    "QuizFile",
    "quiz_file",
    "quiz_id_from",
    "read_aiken",
    "read_gift",
    "write_gift",
]
