"""``QuestionAnswerer``: question -> retrieved chunks -> reading windows -> candidates -> ``Answer``.

The steps live in their own modules: ``qa.windows`` (what to read), ``qa.reading`` (read and place
spans), ``qa.grouping`` (merge spans into answers, choose), ``qa.citations`` (cite). This class holds the
loaded index and models and runs the steps in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from embeddings.chunking import Chunk
from embeddings.documents import document_header
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.errors import IndexLoadError
from embeddings.index import CorpusIndex, load_index
from embeddings.retrieval import MODES, CorpusRetriever, ScoredChunk
from qa.citations import cite, retrieved_passage
from qa.defaults import (
    DEFAULT_MODE,
    DEFAULT_REREADER_DIR,
    DEFAULT_TOP_K,
    STORES,
    default_corpus_dir,
    default_index_dir,
    default_milvus_uri,
    default_store,
)
from qa.errors import InvalidOptionError
from qa.grouping import answer_groups, choose_answers
from qa.questions import clean_question
from qa.reader import Reader, ReaderModel
from qa.reading import PlacedCandidate, blend_margins, clearly_ahead, read_windows
from qa.types import Answer, RetrievedPassage
from qa.windows import ReadingWindow, reading_windows

LOG = logging.getLogger(__name__)
NO_ANSWER_REASON = "No passage of the corpus answers this question."
MILVUS_STAMP_SECONDS = 1.0


def _inside(candidate: PlacedCandidate, window: ReadingWindow) -> bool:
    """True when ``candidate`` was read in ``window`` (starts inside it, in its document)."""
    return candidate.doc_id == window.doc_id and window.start <= candidate.doc_start < window.end


class QuestionAnswerer:
    """Retrieval plus reader over one index. Light constructor; ``load()`` (or the first question) loads
    the index, BM25 and the reader once; later questions reuse them.

    With a ``rereader``, the reader reads only the best-retrieved window first: when a candidate there is
    clearly ahead (the reader's own stop margin), its reading stands; otherwise the rereader reads the
    question's windows afresh and decides, with its own threshold, confidence and stop margin. The default
    answerer (no ``reader`` given) uses ``models/rereader`` when that folder holds a reader.
    """

    def __init__(
        self,
        *,
        index_dir: str | Path | None = None,
        corpus_dir: str | Path | None = None,
        encoder: Encoder | None = None,
        reader: Reader | None = None,
        rereader: Reader | None = None,
        check_stale: bool = True,
        store: str | None = None,
        milvus_uri: str | None = None,
        index: CorpusIndex | None = None,
    ) -> None:
        self.store = store if store is not None else default_store()
        if self.store not in STORES:
            raise InvalidOptionError(f"Unknown index store {self.store!r} (QA_STORE); use one of {', '.join(STORES)}.")
        self.milvus_uri = milvus_uri if milvus_uri is not None else default_milvus_uri()
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.corpus_dir = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
        self.encoder: Encoder = encoder if encoder is not None else SentenceTransformerEncoder()
        self.reader: Reader = reader if reader is not None else ReaderModel()
        if rereader is None and reader is None and (DEFAULT_REREADER_DIR / "calibration.json").exists():
            rereader = ReaderModel(DEFAULT_REREADER_DIR)
        self.rereader: Reader | None = rereader
        self.check_stale = check_stale
        self._loaded: tuple[CorpusIndex, CorpusRetriever] | None = None
        self._stamp: object = None  # the loaded index's manifest file (mtime, size), or Milvus build id
        self._stamp_checked = 0.0
        self._lock = threading.Lock()
        # An index built in memory (benchmarks) is answered from as it is: no folder to load or watch.
        self._fixed = index is not None
        if index is not None:
            self._loaded = (index, CorpusRetriever(index, self.encoder))

    def load(self) -> QuestionAnswerer:
        """Load the index (validated, and checked against the corpus) and warm the reader. Raises the
        index errors of ``embeddings.load_index`` and ``ReaderModelMissingError``."""
        self._ensure_loaded()
        self.reader.load()
        if self.rereader is not None:
            self.rereader.load()
        return self

    def _manifest_stamp(self) -> object:
        if self.store == "milvus":
            # A query to Milvus, not a stat: asked at most once a second, not on every question.
            now = time.monotonic()
            if self._loaded is not None and now - self._stamp_checked < MILVUS_STAMP_SECONDS:
                return self._stamp
            self._stamp_checked = now
            from embeddings.milvus_store import milvus_stamp

            return milvus_stamp(self.milvus_uri)
        try:
            stat = (self.index_dir / "manifest.json").stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _load_snapshot(self) -> tuple[CorpusIndex, CorpusRetriever]:
        if self.store == "milvus":
            from embeddings.milvus_store import load_milvus_index

            milvus_index = load_milvus_index(
                self.milvus_uri,
                encoder_id=self.encoder.encoder_id,
                dimension=self.encoder.dimension,
                corpus_dir=self.corpus_dir if self.check_stale else None,
            )
            return (milvus_index, CorpusRetriever(milvus_index, self.encoder))
        index = load_index(
            self.index_dir,
            encoder_id=self.encoder.encoder_id,
            dimension=self.encoder.dimension,
            corpus_dir=self.corpus_dir if self.check_stale else None,
        )
        return (index, CorpusRetriever(index, self.encoder))

    def _ensure_loaded(self) -> tuple[CorpusIndex, CorpusRetriever]:
        """The loaded (index, retriever) snapshot: loaded on first use, and loaded again when the index
        folder was rebuilt since (by ``qa index``, another process, or the server's watcher)."""
        loaded = self._loaded
        if loaded is not None:
            if not self._fixed and self._manifest_stamp() != self._stamp:
                self.refresh()
            return self._loaded or loaded
        with self._lock:
            if self._loaded is None:
                self._stamp = self._manifest_stamp()
                self._loaded = self._load_snapshot()
            return self._loaded

    def refresh(self) -> bool:
        """Load the index again if its folder changed since it was loaded; True when a new one is in use.

        Questions asked meanwhile (other threads) keep the snapshot they started with. A rebuilt index that
        cannot be used (stale against the corpus again, damaged) is logged and the loaded one stays.
        """
        if self._fixed or self._loaded is None or not self._lock.acquire(blocking=False):
            return False  # an in-memory index, not loaded yet, or another thread is loading it right now
        try:
            stamp = self._manifest_stamp()
            if stamp == self._stamp:
                return False
            try:
                snapshot = self._load_snapshot()
            except IndexLoadError as error:
                LOG.warning("kept the loaded index: the rebuilt one at %s is not usable: %s", self.index_dir, error)
                self._stamp = stamp  # do not try again until the folder changes again
                return False
            self._loaded, self._stamp = snapshot, stamp
            return True
        finally:
            self._lock.release()

    @property
    def index(self) -> CorpusIndex:
        """The loaded index (loads it on first access)."""
        return self._ensure_loaded()[0]

    def retrieve(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> list[ScoredChunk]:
        """The retrieved chunks for a cleaned question, best first. Raises ``InvalidOptionError`` for a
        ``top_k`` below 1 or an unknown ``mode``."""
        return self._retrieve(self._ensure_loaded()[1], question, top_k=top_k, mode=mode)

    @staticmethod
    def _retrieve(
        retriever: CorpusRetriever, question: str, *, top_k: int | None, mode: str | None
    ) -> list[ScoredChunk]:
        top_k = DEFAULT_TOP_K if top_k is None else top_k
        if not isinstance(top_k, int) or top_k < 1:
            raise InvalidOptionError(f"top_k must be a positive whole number, not {top_k!r}")
        mode = DEFAULT_MODE if mode is None else mode
        if mode not in MODES:
            raise InvalidOptionError(f"Unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}.")
        return retriever.retrieve(question, top_k, mode=mode)

    def search(self, query: str, *, top_k: int | None = None, mode: str | None = None) -> tuple[RetrievedPassage, ...]:
        """The passages that best match ``query``, best first, without reading them: for people who want
        to read rather than ask. Same checks and errors as ``answer``."""
        query = clean_question(query)
        index, retriever = self._ensure_loaded()
        return tuple(retrieved_passage(r, index) for r in self._retrieve(retriever, query, top_k=top_k, mode=mode))

    def answer(self, question: str, *, top_k: int | None = None, mode: str | None = None) -> Answer:
        """Answer ``question`` from the corpus; see ``qa.answer``. One index snapshot serves the whole
        question, even if a rebuilt index is swapped in meanwhile."""
        question = clean_question(question)
        index, retriever = self._ensure_loaded()
        retrieved = self._retrieve(retriever, question, top_k=top_k, mode=mode)
        passages = tuple(retrieved_passage(r, index) for r in retrieved)
        return self._answer(question, *self._read(question, retrieved, index, with_previous=True), passages, index)

    def answer_from_passages(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        """Run only the reader (no retrieval) over the given chunks: the eval's isolated-reader mode."""
        question = clean_question(question)
        self.load()
        retrieved = [ScoredChunk(c, 0.0, rank) for rank, c in enumerate(chunks)]
        index = self.index
        return self._answer(question, *self._read(question, retrieved, index, with_previous=False), (), index)

    def reading_header(self, doc_id: str, index: CorpusIndex | None = None, reader: Reader | None = None) -> str:
        """The line ``reader`` (by default the first reader) sees above a passage of ``doc_id``: its title and
        date when that reader was calibrated that way (news paragraphs say "last week" and "the deal" and
        leave the subject and the date to the headline and dateline), else nothing."""
        if not (reader or self.reader).calibration.passage_header:
            return ""
        return document_header((index if index is not None else self.index).documents[doc_id])

    def _read(
        self, question: str, retrieved: Sequence[ScoredChunk], index: CorpusIndex, *, with_previous: bool
    ) -> tuple[list[PlacedCandidate], Reader]:
        """The candidates for ``question`` and the reader whose reading decides. Retrieved windows are read
        best first until an answer is clearly ahead; the isolated-reader mode (the eval's) reads every
        passage it is given. With a rereader, the first reader reads the best window (isolated: every
        passage) and, unless it is clearly ahead there, the rereader reads them all as above; with the
        rereader's ``first_reader_weight``, the first reader also reads the other windows in which the
        rereader found candidates, and its margins join the rereader's (``blend_margins``)."""
        windows = reading_windows(retrieved, index, with_previous=with_previous)
        reader = self.reader
        if self.rereader is not None and windows:
            first = [min(windows, key=lambda w: w.retrieval.rank)] if with_previous else windows
            headers = [self.reading_header(w.doc_id, index, reader) for w in first]
            placed = read_windows(reader, question, first, index.documents, headers)
            stop_margin = reader.calibration.stop_margin
            if stop_margin is not None and clearly_ahead(placed, stop_margin):
                return placed, reader
            rereader = self.rereader
            headers = [self.reading_header(w.doc_id, index, rereader) for w in windows]
            stop_margin = rereader.calibration.stop_margin if with_previous else None
            reread = read_windows(rereader, question, windows, index.documents, headers, stop_margin=stop_margin)
            weight = rereader.calibration.first_reader_weight
            if weight:  # the first reader's margins join the rereader's
                # It reads only the windows holding a candidate of the rereader's: the blend changes nothing
                # else, and one the rereader never read (it stopped, clearly ahead) need not be read by either.
                rest = [w for w in windows if w not in first and any(_inside(c, w) for c in reread)]
                rest_headers = [self.reading_header(w.doc_id, index, reader) for w in rest]
                placed += read_windows(reader, question, rest, index.documents, rest_headers)
                reread = blend_margins(reread, placed, weight, rereader.calibration)
            return reread, rereader
        headers = [self.reading_header(w.doc_id, index, reader) for w in windows]
        stop_margin = reader.calibration.stop_margin if with_previous else None
        return read_windows(reader, question, windows, index.documents, headers, stop_margin=stop_margin), reader

    def _answer(
        self,
        question: str,
        candidates: list[PlacedCandidate],
        reader: Reader,
        passages: tuple[RetrievedPassage, ...],
        index: CorpusIndex,
    ) -> Answer:
        groups = answer_groups(candidates, reader.calibration)
        chosen = choose_answers(groups, threshold=reader.calibration.threshold)
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
                citations=tuple(cite(member, index) for member in g.members),
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
