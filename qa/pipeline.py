"""Question -> retrieved chunks -> reader spans -> one ``Answer`` with citations and dated alternatives."""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from embeddings.chunking import Chunk
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.index import CorpusIndex, document_header, load_index
from embeddings.retrieval import MODES, CorpusRetriever, ScoredChunk
from qa.metrics import normalize_answer
from qa.questions import answer_fits_question, clean_question
from qa.reader import ReaderModel, SpanCandidate
from qa.types import Answer, Citation, RetrievedPassage

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOP_K = 5
DEFAULT_MODE = "hybrid"
MAX_ALTERNATIVES = 4
ALTERNATIVE_MIN_CONFIDENCE = 0.2
# Added to a candidate's margin, for ranking only, when its article's date matches a year (and month)
# the question names: "in the deal announced in August 2014" should prefer the August 2014 article.
DATE_MATCH_BONUS = 2.0
_MONTHS = ("january february march april may june july august september october november december").split()
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


def question_dates(question: str) -> tuple[set[int], set[int]]:
    """Years and month numbers named in a question."""
    lowered = question.lower()
    years = {int(y) for y in _YEAR.findall(lowered)}
    months = {i + 1 for i, name in enumerate(_MONTHS) if re.search(rf"\b{name}\b", lowered)}
    return years, months


def date_bonus(question_years: set[int], question_months: set[int], date: str | None) -> float:
    """``DATE_MATCH_BONUS`` (half for the year alone) when ``date`` (ISO) matches the question's dates."""
    if not date or not question_years:
        return 0.0
    year, month = int(date[:4]), int(date[5:7])
    if year not in question_years:
        return 0.0
    if question_months and month not in question_months:
        return DATE_MATCH_BONUS / 2
    return DATE_MATCH_BONUS


def default_index_dir() -> Path:
    """``$QA_INDEX`` if set, else ``index/`` in the project folder."""
    return Path(os.environ.get("QA_INDEX") or PROJECT_ROOT / "index")


def default_corpus_dir() -> Path:
    """``$QA_CORPUS`` if set, else ``corpus/`` in the project folder."""
    return Path(os.environ.get("QA_CORPUS") or PROJECT_ROOT / "corpus")


@dataclass(frozen=True)
class _Read:
    """One reader candidate placed in its document, with its confidence."""

    candidate: SpanCandidate
    doc_id: str
    doc_start: int
    doc_end: int
    confidence: float
    retrieval: ScoredChunk
    date_bonus: float = 0.0


class QuestionAnswerer:
    """Retrieval plus reader over one index. Light constructor; ``load()`` (or the first question) loads
    the index, BM25 and the reader once; later questions reuse them."""

    def __init__(
        self, *, index_dir: str | Path | None = None, corpus_dir: str | Path | None = None,
        encoder: Encoder | None = None, reader: ReaderModel | None = None, check_stale: bool = True,
    ) -> None:
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.corpus_dir = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
        self.encoder = encoder if encoder is not None else SentenceTransformerEncoder()
        self.reader = reader if reader is not None else ReaderModel()
        self.check_stale = check_stale
        self._index: CorpusIndex | None = None
        self._retriever: CorpusRetriever | None = None
        self._lock = threading.Lock()

    def load(self) -> "QuestionAnswerer":
        """Load the index (validated, and checked against the corpus) and warm the reader. Raises the
        index errors of ``embeddings.load_index`` and ``ReaderModelMissingError``."""
        self._ensure_index()
        self.reader.load()
        return self

    def _ensure_index(self) -> None:
        with self._lock:
            if self._retriever is None:
                index = load_index(
                    self.index_dir, encoder_id=self.encoder.encoder_id, dimension=self.encoder.dimension,
                    corpus_dir=self.corpus_dir if self.check_stale else None,
                )
                self._retriever = CorpusRetriever(index, self.encoder)
                self._index = index

    @property
    def index(self) -> CorpusIndex:
        """The loaded index (loads it on first access)."""
        self._ensure_index()
        return self._index

    def retrieve(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> list[ScoredChunk]:
        """The retrieved chunks for a cleaned question."""
        self._ensure_index()
        return self._retriever.retrieve(question, DEFAULT_TOP_K if top_k is None else top_k,
                                        mode=DEFAULT_MODE if mode is None else mode)

    def answer(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> Answer:
        """Answer ``question`` from the corpus; see ``qa.answer``."""
        question = clean_question(question)
        top_k = DEFAULT_TOP_K if top_k is None else top_k
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError("top_k must be a positive whole number")
        mode = DEFAULT_MODE if mode is None else mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        retrieved = self.retrieve(question, top_k=top_k, mode=mode)
        passages = [self._retrieved_passage(r) for r in retrieved]
        reads = self._read(question, retrieved)
        return self._decide(question, reads, passages)

    def answer_from_passages(self, question: str, chunks: list[Chunk]) -> Answer:
        """Run only the reader (no retrieval) over the given chunks: the eval's isolated-reader mode."""
        question = clean_question(question)
        self.load()
        retrieved = [ScoredChunk(c, 0.0, rank) for rank, c in enumerate(chunks)]
        return self._decide(question, self._read(question, retrieved, with_previous=False), [])

    def reading_header(self, doc_id: str) -> str:
        """The line the reader sees above a passage of ``doc_id``: its title and date when the shipped
        reader was calibrated that way (news paragraphs say "last week" and "the deal" and leave the
        subject and the date to the headline and dateline), else nothing."""
        if not self.reader.calibration.passage_header:
            return ""
        return document_header(self.index.documents[doc_id])

    # -- internals -------------------------------------------------------------------------------

    def _retrieved_passage(self, result: ScoredChunk) -> RetrievedPassage:
        document = self._index.documents[result.chunk.doc_id]
        return RetrievedPassage(
            document.doc_id, document.title, document.date, result.chunk.chunk_id, result.chunk.index,
            result.chunk.text, result.score, result.rank, result.dense_score, result.bm25_score,
        )

    def _reading_windows(self, retrieved: list[ScoredChunk], with_previous: bool) -> list[tuple[str, int, int, ScoredChunk]]:
        """Group retrieved chunks into (doc_id, first chunk, last chunk, best result) ranges: each chunk is
        read together with the paragraph before it (news paragraphs lean on their predecessor: "the deal"),
        and overlapping ranges of one document are read once."""
        ranges: dict[str, list[list]] = {}
        for result in retrieved:
            chunk = result.chunk
            first = max(0, chunk.index - 1) if with_previous else chunk.index
            ranges.setdefault(chunk.doc_id, []).append([first, chunk.index, result])
        windows = []
        for doc_id, spans in ranges.items():
            spans.sort(key=lambda s: s[0])
            merged = [spans[0]]
            for first, last, result in spans[1:]:
                if first <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], last)
                    if result.rank < merged[-1][2].rank:
                        merged[-1][2] = result
                else:
                    merged.append([first, last, result])
            windows.extend((doc_id, first, last, result) for first, last, result in merged)
        return windows

    def _read(self, question: str, retrieved: list[ScoredChunk], *, with_previous: bool = True) -> list[_Read]:
        if not retrieved:
            return []
        chunks_by_doc = self._chunks_by_doc()
        windows = self._reading_windows(retrieved, with_previous)
        texts, starts, headers = [], [], []
        for doc_id, first, last, _ in windows:
            document = self._index.documents[doc_id]
            start, end = chunks_by_doc[doc_id][first].start, chunks_by_doc[doc_id][last].end
            texts.append(document.text[start:end])
            starts.append(start)
            headers.append(self.reading_header(doc_id))
        calibration = self.reader.calibration
        years, months = question_dates(question)
        reads = []
        for candidate in self.reader.read(question, texts, headers=headers, n_best=3):
            if not answer_fits_question(question, _whole_words(texts[candidate.passage_index], candidate.start, candidate.end)):
                continue  # e.g. "F-16" (or its "16") for "how many ...?": never an answer, whatever its score
            doc_id, _, _, result = windows[candidate.passage_index]
            offset = starts[candidate.passage_index]
            bonus = date_bonus(years, months, self._index.documents[doc_id].date)
            reads.append(_Read(candidate, doc_id, offset + candidate.start, offset + candidate.end,
                               calibration.confidence(candidate.margin + bonus), result, bonus))
        return reads

    def _chunks_by_doc(self) -> dict[str, list[Chunk]]:
        if not hasattr(self, "_chunk_table"):
            table: dict[str, list[Chunk]] = {}
            for chunk in self._index.chunks:
                table.setdefault(chunk.doc_id, []).append(chunk)
            for chunks in table.values():
                chunks.sort(key=lambda c: c.index)
            self._chunk_table = table
        return self._chunk_table

    def _citation(self, read: _Read) -> Citation:
        document = self._index.documents[read.doc_id]
        chunks = self._chunks_by_doc()[read.doc_id]
        home = next((c for c in chunks if c.start <= read.doc_start < c.end), chunks[-1])
        # A span that runs past its paragraph is cited with the text up to where it ends.
        passage_end = max(home.end, read.doc_end)
        return Citation(
            doc_id=document.doc_id, title=document.title, date=document.date,
            passage=document.text[home.start:passage_end], start=read.doc_start - home.start,
            end=read.doc_end - home.start, chunk_id=home.chunk_id, paragraph=home.index,
            doc_start=home.start, author=document.author, retrieval_score=read.retrieval.score,
        )

    def _decide(self, question: str, reads: list[_Read], passages: list[RetrievedPassage]) -> Answer:
        threshold = self.reader.calibration.threshold
        groups = _group_reads(reads)
        eligible = [g for g in groups if g["best"].candidate.margin > threshold]
        if not eligible:
            best = max((g["best"].confidence for g in groups), default=0.0)
            return Answer(None, round(1.0 - best, 4), [], [], question, passages,
                          no_answer_reason="No passage of the corpus answers this question.")
        answers = []
        for group in eligible[: 1 + MAX_ALTERNATIVES]:
            if answers and group["score"] < ALTERNATIVE_MIN_CONFIDENCE:
                continue
            citations = [self._citation(r) for r in group["members"]]
            answers.append(Answer(group["best"].candidate.text.strip(), round(group["score"], 4), citations, [], question, []))
        top = answers[0]
        return Answer(top.text, top.score, top.citations, answers[1:], question, passages)


def _whole_words(text: str, start: int, end: int) -> str:
    """``text[start:end]`` widened to the white space around it: the words a span touches ("F-16" for
    a span "16" read inside it)."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _overlaps(a: _Read, b: _Read) -> bool:
    return a.doc_id == b.doc_id and a.doc_start < b.doc_end and b.doc_start < a.doc_end


def _group_reads(reads: list[_Read]) -> list[dict]:
    """Merge candidates into distinct answers, best first.

    Overlapping spans of one document are one answer (its best-scored wording); answers with the same
    normalised text in several places are one answer whose confidence is the noisy-or over the distinct
    documents that support it, so agreement across articles raises confidence.
    """
    ordered = sorted(reads, key=lambda r: -(r.candidate.margin + r.date_bonus))
    clusters: list[list[_Read]] = []
    for read in ordered:
        home = next((c for c in clusters if any(_overlaps(read, member) for member in c)), None)
        if home is None:
            clusters.append([read])
        else:
            home.append(read)
    groups: dict[str, dict] = {}
    for cluster in clusters:
        best = cluster[0]
        key = normalize_answer(best.candidate.text) or best.candidate.text.strip().lower()
        group = groups.setdefault(key, {"best": best, "members": [], "per_doc": {}})
        group["members"].append(best)
        group["per_doc"][best.doc_id] = max(group["per_doc"].get(best.doc_id, 0.0), best.confidence)
    for group in groups.values():
        group["score"] = 1.0 - math.prod(1.0 - p for p in group["per_doc"].values())
    return sorted(groups.values(), key=lambda g: (-g["score"], -(g["best"].candidate.margin + g["best"].date_bonus)))
