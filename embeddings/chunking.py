"""Split a cleaned document into paragraph chunks with exact character offsets and content-hash ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from embeddings.documents import Document, document_header

MIN_CHUNK_WORDS = 25
MAX_CHUNK_WORDS = 220  # ~300 word pieces with the question: one reader window of 384 tokens
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+(?=[A-Z0-9\"“‘(])")


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: ``document.text[start:end] == text``; ``chunk_id`` hashes doc id + text."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


def chunk_id_for(doc_id: str, text: str) -> str:
    """Stable id of a chunk: re-indexing the same text in the same document gives the same id."""
    return hashlib.sha256(f"{doc_id}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _paragraph_spans(document: Document) -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", document.text):
        if match.group().strip():
            spans.append((match.start(), match.end()))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences: (start, end) character spans in order, the white space between
    sentences left out. A break is end punctuation (and closing quotes or brackets), white space, then a
    capital, digit or opening quote."""
    spans, position = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return [(s, e) for s, e in spans if e > s]


def _split_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut [start, end) at sentence boundaries into pieces of at most ``max_words`` words where possible."""
    segment = text[start:end]
    pieces: list[tuple[int, int]] = []
    piece_start: int | None = None
    piece_end, words = 0, 0
    for s, e in sentence_spans(segment):
        count = len(segment[s:e].split())
        if piece_start is not None and words + count > max_words:
            pieces.append((start + piece_start, start + piece_end))
            piece_start, words = None, 0
        if piece_start is None:
            piece_start = s
        piece_end, words = e, words + count
    if piece_start is not None:
        pieces.append((start + piece_start, start + piece_end))
    return pieces


def chunk_document(
    document: Document, *, min_words: int = MIN_CHUNK_WORDS, max_words: int = MAX_CHUNK_WORDS
) -> list[Chunk]:
    """Return the document's chunks in order: one per paragraph, a paragraph shorter than ``min_words``
    merged into the next one (or the previous, at the end), one longer than ``max_words`` split at
    sentence boundaries."""
    spans: list[tuple[int, int]] = []
    for start, end in _paragraph_spans(document):
        if len(document.text[start:end].split()) > max_words:
            spans.extend(_split_long(document.text, start, end, max_words))
        else:
            spans.append((start, end))
    merged: list[list[int]] = []
    pending_start = None
    for start, end in spans:
        if pending_start is not None:
            start, pending_start = pending_start, None
        if len(document.text[start:end].split()) < min_words:
            pending_start = start
            continue
        merged.append([start, end])
    if pending_start is not None:
        if merged:
            merged[-1][1] = spans[-1][1]
        else:
            merged.append([pending_start, spans[-1][1]])
    return [
        Chunk(chunk_id_for(document.doc_id, document.text[s:e]), document.doc_id, i, s, e, document.text[s:e])
        for i, (s, e) in enumerate(merged)
    ]


def embedding_text(chunk: Chunk, document: Document) -> str:
    """The text a chunk is embedded and keyword-indexed as: article title and date, then the passage.
    News paragraphs often leave the subject implicit ("the deal", "the missiles"); the title names it,
    and the date lets "in December 2013" find the article of that month."""
    return f"{document_header(document)}\n{chunk.text}"
