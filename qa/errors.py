"""Typed errors of the question-answering layer. Each message tells the user what to do next."""

from __future__ import annotations

from embeddings.errors import (
    BuildEngineError,
    CorpusError,
    CorpusFileNotFoundError,
    CorpusNotFoundError,
    EmptyCorpusError,
    EncoderMissingError,
    FileRejectedError,
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


class InvalidQuestionError(QAError, ValueError):
    """The question is not a string."""


class InvalidOptionError(QAError, ValueError):
    """An option of ``qa.answer`` is out of range (``top_k`` below 1, an unknown retrieval ``mode``)."""


class ReaderModelMissingError(QAError):
    """The reader weights are not where they should be."""


class ReaderModelMismatchError(ReaderModelMissingError):
    """The reader's files are there but do not belong together (tokenizer and weights disagree)."""


# Everything a caller of ``qa.answer`` should expect and show to a user as a message.
USER_ERRORS: tuple[type[Exception], ...] = (
    QAError,
    IndexLoadError,
    EncoderMissingError,
    CorpusError,
    BuildEngineError,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "USER_ERRORS",
    "BuildEngineError",
    "CorpusError",
    "CorpusFileNotFoundError",
    "CorpusNotFoundError",
    "EmptyCorpusError",
    "EmptyQuestionError",
    "EncoderMissingError",
    "FileRejectedError",
    "IndexCorruptError",
    "IndexLoadError",
    "IndexMismatchError",
    "IndexNotBuiltError",
    "InvalidOptionError",
    "InvalidQuestionError",
    "QAError",
    "QuestionTooLongError",
    "ReaderModelMismatchError",
    "ReaderModelMissingError",
    "StaleIndexError",
]
