"""The frozen result types every layer passes: ``Answer``, ``Citation`` and ``RetrievedPassage``.

All three are frozen all the way down (their collections are tuples, so an ``Answer`` is hashable and
``answer.citations.append`` fails) and keyword-only, so reordering a field can never swap two values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Citation:
    """Where an answer was read: ``passage[start:end]`` is the answer exactly as the article writes it.

    ``doc_start`` is the passage's offset in the cleaned document text, so
    ``document.text[doc_start + start : doc_start + end]`` is the same span. ``paragraph`` is the passage's
    number in its document counted from 1, as every view shows it.
    """

    doc_id: str
    title: str
    date: str | None
    passage: str
    start: int
    end: int
    chunk_id: str
    paragraph: int
    doc_start: int
    author: str | None = None
    retrieval_score: float | None = None
    url: str | None = None

    @property
    def quote(self) -> str:
        """The cited span itself."""
        return self.passage[self.start : self.end]


@dataclass(frozen=True, kw_only=True)
class RetrievedPassage:
    """A passage the retriever handed to the reader (or a search returned), with its scores. ``paragraph``
    counts from 1; ``document.text[doc_start : doc_start + len(text)] == text``."""

    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    paragraph: int
    text: str
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None
    doc_start: int = 0
    author: str | None = None
    url: str | None = None

    @property
    def score_summary(self) -> str:
        """Its scores as one line for people: "fused 0.0312 · dense 0.712 · bm25 2.50" (those it has)."""
        parts = [f"fused {self.score:.4f}"]
        if self.dense_score is not None:
            parts.append(f"dense {self.dense_score:.3f}")
        if self.bm25_score is not None:
            parts.append(f"bm25 {self.bm25_score:.2f}")
        return " · ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The bot's answer. ``text is None`` means the corpus does not answer the question (abstention).

    ``score`` is a probability-like confidence in [0, 1], comparable between questions; ``citations`` are
    best first and empty on abstention; ``alternatives`` are other distinct candidates (for instance the
    same question answered differently by an article of another date), each an ``Answer`` of its own.
    """

    text: str | None
    score: float
    citations: tuple[Citation, ...] = ()
    alternatives: tuple[Answer, ...] = ()
    question: str = ""
    passages: tuple[RetrievedPassage, ...] = ()
    no_answer_reason: str | None = None

    @property
    def found(self) -> bool:
        """True when the bot gives an answer rather than abstaining."""
        return self.text is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (nested answers and citations included; tuples as lists)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
