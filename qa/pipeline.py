"""``QuestionAnswerer``: question -> retrieved chunks -> reading windows -> candidates -> ``Answer``.

The steps live in their own modules: ``qa.windows`` (what to read), ``qa.reading`` (read and place
spans), ``qa.grouping`` (merge spans into answers, choose), ``qa.citations`` (cite). This class holds the
loaded index and models and runs the steps in order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from embeddings.chunking import Chunk
from embeddings.documents import document_header
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.index import CorpusIndex, load_index
from embeddings.retrieval import MODES, CorpusRetriever, ScoredChunk
from qa.citations import cite, retrieved_passage
from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, default_corpus_dir, default_index_dir
from qa.errors import InvalidOptionError
from qa.grouping import choose_answers, group_candidates
from qa.questions import clean_question
from qa.reader import Reader, ReaderModel
from qa.reading import PlacedCandidate, read_windows
from qa.types import Answer, RetrievedPassage
from qa.windows import reading_windows

NO_ANSWER_REASON = "No passage of the corpus answers this question."


class QuestionAnswerer:
    """Retrieval plus reader over one index. Light constructor; ``load()`` (or the first question) loads
    the index, BM25 and the reader once; later questions reuse them."""

    def __init__(
        self,
        *,
        index_dir: str | Path | None = None,
        corpus_dir: str | Path | None = None,
        encoder: Encoder | None = None,
        reader: Reader | None = None,
        check_stale: bool = True,
    ) -> None:
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.corpus_dir = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
        self.encoder: Encoder = encoder if encoder is not None else SentenceTransformerEncoder()
        self.reader: Reader = reader if reader is not None else ReaderModel()
        self.check_stale = check_stale
        self._loaded: tuple[CorpusIndex, CorpusRetriever] | None = None
        self._lock = threading.Lock()

    def load(self) -> QuestionAnswerer:
        """Load the index (validated, and checked against the corpus) and warm the reader. Raises the
        index errors of ``embeddings.load_index`` and ``ReaderModelMissingError``."""
        self._ensure_loaded()
        self.reader.load()
        return self

    def _ensure_loaded(self) -> tuple[CorpusIndex, CorpusRetriever]:
        with self._lock:
            if self._loaded is None:
                index = load_index(
                    self.index_dir,
                    encoder_id=self.encoder.encoder_id,
                    dimension=self.encoder.dimension,
                    corpus_dir=self.corpus_dir if self.check_stale else None,
                )
                self._loaded = (index, CorpusRetriever(index, self.encoder))
            return self._loaded

    @property
    def index(self) -> CorpusIndex:
        """The loaded index (loads it on first access)."""
        return self._ensure_loaded()[0]

    def retrieve(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> list[ScoredChunk]:
        """The retrieved chunks for a cleaned question, best first. Raises ``InvalidOptionError`` for a
        ``top_k`` below 1 or an unknown ``mode``."""
        top_k = DEFAULT_TOP_K if top_k is None else top_k
        if not isinstance(top_k, int) or top_k < 1:
            raise InvalidOptionError(f"top_k must be a positive whole number, not {top_k!r}")
        mode = DEFAULT_MODE if mode is None else mode
        if mode not in MODES:
            raise InvalidOptionError(f"Unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}.")
        return self._ensure_loaded()[1].retrieve(question, top_k, mode=mode)

    def answer(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> Answer:
        """Answer ``question`` from the corpus; see ``qa.answer``."""
        question = clean_question(question)
        retrieved = self.retrieve(question, top_k=top_k, mode=mode)
        index = self.index
        passages = tuple(retrieved_passage(r, index) for r in retrieved)
        return self._answer(question, self._read(question, retrieved, with_previous=True), passages)

    def answer_from_passages(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        """Run only the reader (no retrieval) over the given chunks: the eval's isolated-reader mode."""
        question = clean_question(question)
        self.load()
        retrieved = [ScoredChunk(c, 0.0, rank) for rank, c in enumerate(chunks)]
        return self._answer(question, self._read(question, retrieved, with_previous=False), ())

    def reading_header(self, doc_id: str) -> str:
        """The line the reader sees above a passage of ``doc_id``: its title and date when the shipped
        reader was calibrated that way (news paragraphs say "last week" and "the deal" and leave the
        subject and the date to the headline and dateline), else nothing."""
        if not self.reader.calibration.passage_header:
            return ""
        return document_header(self.index.documents[doc_id])

    def _read(self, question: str, retrieved: Sequence[ScoredChunk], *, with_previous: bool) -> list[PlacedCandidate]:
        index = self.index
        windows = reading_windows(retrieved, index, with_previous=with_previous)
        headers = [self.reading_header(w.doc_id) for w in windows]
        # Retrieved windows are read best first until an answer is clearly ahead; the isolated-reader mode
        # (the eval's) reads every passage it is given.
        stop_margin = self.reader.calibration.stop_margin if with_previous else None
        return read_windows(self.reader, question, windows, index.documents, headers, stop_margin=stop_margin)

    def _answer(
        self, question: str, candidates: list[PlacedCandidate], passages: tuple[RetrievedPassage, ...]
    ) -> Answer:
        groups = group_candidates(candidates)
        chosen = choose_answers(groups, threshold=self.reader.calibration.threshold)
        if not chosen:
            best = max((g.best.confidence for g in groups), default=0.0)
            return Answer(
                text=None,
                score=round(1.0 - best, 4),
                question=question,
                passages=passages,
                no_answer_reason=NO_ANSWER_REASON,
            )
        answers = [
            Answer(
                text=g.best.candidate.text.strip(),
                score=round(g.score, 4),
                question=question,
                citations=tuple(cite(member, self.index) for member in g.members),
            )
            for g in chosen
        ]
        top = answers[0]
        return Answer(
            text=top.text,
            score=top.score,
            citations=top.citations,
            alternatives=tuple(answers[1:]),
            question=question,
            passages=passages,
        )
