"""Validation and normalisation of user questions before they reach retrieval or the reader."""

from __future__ import annotations

import re
import unicodedata

from qa.errors import MAX_QUESTION_CHARS, EmptyQuestionError, QAError, QuestionTooLongError


class InvalidQuestionError(QAError, ValueError):
    """The question is not a string."""


_SPACE = re.compile(r"\s+")


def clean_question(question: object, *, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """Return the question NFC-normalised, without control/format characters or lone surrogates, with
    white space collapsed.

    Raises ``InvalidQuestionError`` for a non-string, ``EmptyQuestionError`` when nothing readable is left,
    ``QuestionTooLongError`` when it is longer than ``max_chars`` characters.
    """
    if not isinstance(question, str):
        raise InvalidQuestionError(f"A question must be text, not {type(question).__name__}.")
    # Lone surrogates cannot be encoded (and crash tokenisers): replace them before anything else.
    text = question.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(question) else question
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch for ch in text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > max_chars:
        raise QuestionTooLongError(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,}. Ask something shorter."
        )
    if not text or not any(ch.isalnum() for ch in text):
        raise EmptyQuestionError("The question is empty. Type a question, e.g. 'How many Hellfire missiles were sold to Iraq?'")
    return text


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)
