"""The frozen result types every layer passes: ``Answer``, ``Citation`` and ``RetrievedPassage``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Citation:
    """Where an answer was read: ``passage[start:end]`` is the answer exactly as the article writes it.

    ``doc_start`` is the passage's offset in the cleaned document text, so
    ``document.text[doc_start + start : doc_start + end]`` is the same span.
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

    @property
    def quote(self) -> str:
        """The cited span itself."""
        return self.passage[self.start : self.end]


@dataclass(frozen=True)
class RetrievedPassage:
    """A passage the retriever handed to the reader, with its scores (for display and evaluation)."""

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


@dataclass(frozen=True)
class Answer:
    """The bot's answer. ``text is None`` means the corpus does not answer the question (abstention).

    ``score`` is a probability-like confidence in [0, 1], comparable between questions; ``citations`` are
    best first and empty on abstention; ``alternatives`` are other distinct candidates (for instance the
    same question answered differently by an article of another date), each an ``Answer`` of its own.
    """

    text: str | None
    score: float
    citations: list[Citation] = field(default_factory=list)
    alternatives: list["Answer"] = field(default_factory=list)
    question: str = ""
    passages: list[RetrievedPassage] = field(default_factory=list)
    no_answer_reason: str | None = None

    @property
    def found(self) -> bool:
        """True when the bot gives an answer rather than abstaining."""
        return self.text is not None

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (nested answers and citations included)."""
        return dataclasses.asdict(self)
