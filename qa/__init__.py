"""Extractive question answering over the indexed corpus: ``qa.answer(question)`` -> ``qa.Answer``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, default_corpus_dir, default_index_dir
from qa.errors import (
    MAX_QUESTION_CHARS,
    USER_ERRORS,
    CorpusError,
    CorpusFileNotFoundError,
    CorpusNotFoundError,
    EmptyCorpusError,
    EmptyQuestionError,
    EncoderMissingError,
    FileRejectedError,
    IndexCorruptError,
    IndexLoadError,
    IndexMismatchError,
    IndexNotBuiltError,
    InvalidOptionError,
    InvalidQuestionError,
    QAError,
    QuestionTooLongError,
    ReaderModelMismatchError,
    ReaderModelMissingError,
    StaleIndexError,
)
from qa.types import Answer, Citation, RetrievedPassage

if TYPE_CHECKING:
    from qa.pipeline import QuestionAnswerer

_ANSWERERS: dict[tuple[str, str], QuestionAnswerer] = {}
_ANSWERERS_LOCK = threading.Lock()


def get_answerer(*, index_dir: str | Path | None = None, corpus_dir: str | Path | None = None) -> QuestionAnswerer:
    """The shared ``QuestionAnswerer`` for these paths: created once, loaded on first use."""
    from qa.pipeline import QuestionAnswerer

    index_path = Path(index_dir) if index_dir is not None else default_index_dir()
    corpus_path = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    key = (str(index_path.resolve()), str(corpus_path.resolve()))
    with _ANSWERERS_LOCK:
        if key not in _ANSWERERS:
            _ANSWERERS[key] = QuestionAnswerer(index_dir=index_path, corpus_dir=corpus_path)
        return _ANSWERERS[key]


def answer(
    question: str,
    *,
    top_k: int | None = None,
    mode: str | None = None,
    index_dir: str | Path | None = None,
    corpus_dir: str | Path | None = None,
) -> Answer:
    """Answer ``question`` from the documents of the index, citing the passage of every answer.

    ``top_k`` passages (default ``DEFAULT_TOP_K``, 5) are retrieved with ``mode`` "hybrid" (the default),
    "dense" or "bm25". Returns an ``Answer``; ``Answer.text`` is None when the corpus does not answer the
    question. Raises ``EmptyQuestionError`` / ``QuestionTooLongError`` / ``InvalidQuestionError`` for bad
    questions, ``InvalidOptionError`` for a bad ``top_k`` or ``mode``, ``IndexNotBuiltError``,
    ``StaleIndexError``, ``IndexMismatchError`` or ``IndexCorruptError`` for an unusable index (the
    message gives the command that fixes it) and ``ReaderModelMissingError`` without reader weights.
    The first call loads models and index; later calls reuse them.
    """
    return get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).answer(question, top_k=top_k, mode=mode)


def search(
    query: str,
    *,
    top_k: int | None = None,
    mode: str | None = None,
    index_dir: str | Path | None = None,
    corpus_dir: str | Path | None = None,
) -> tuple[RetrievedPassage, ...]:
    """The ``top_k`` passages that best match ``query`` (retrieval only, no answer), best first, each with
    its document's title, date and paragraph number. Raises what ``answer`` raises for bad input."""
    return get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).search(query, top_k=top_k, mode=mode)


__all__ = [
    "DEFAULT_MODE",
    "DEFAULT_TOP_K",
    "MAX_QUESTION_CHARS",
    "USER_ERRORS",
    "Answer",
    "Citation",
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
    "RetrievedPassage",
    "StaleIndexError",
    "answer",
    "get_answerer",
    "search",
]
