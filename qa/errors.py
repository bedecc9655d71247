"""Typed errors of the question-answering layer. Each message tells the user what to do next."""

from __future__ import annotations

from embeddings.errors import (
    EncoderMissingError,
    IndexCorruptError,
    IndexLoadError,
    IndexMismatchError,
    IndexNotBuiltError,
    StaleIndexError,
)

MAX_QUESTION_CHARS = 1000


class QAError(Exception):
    """Base class of the errors ``qa.answer`` raises for bad input or a missing model."""


class EmptyQuestionError(QAError, ValueError):
    """The question is empty or only white space / control characters."""


class QuestionTooLongError(QAError, ValueError):
    """The question exceeds ``MAX_QUESTION_CHARS`` characters."""


class ReaderModelMissingError(QAError):
    """The reader weights are not where they should be."""


# Everything a caller of ``qa.answer`` should expect and show to a user as a message.
USER_ERRORS: tuple[type[Exception], ...] = (QAError, IndexLoadError, EncoderMissingError)

__all__ = [
    "EmptyQuestionError", "EncoderMissingError", "IndexCorruptError", "IndexLoadError", "IndexMismatchError",
    "IndexNotBuiltError", "MAX_QUESTION_CHARS", "QAError", "QuestionTooLongError", "ReaderModelMissingError",
    "StaleIndexError", "USER_ERRORS",
]
