"""Dense, BM25 and hybrid (reciprocal rank or convex score fusion) retrieval over one loaded index."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from embeddings.chunking import Chunk, embedding_text
from embeddings.encoder import QueryEncoder
from embeddings.index import CorpusIndex

MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk: ``score`` orders results of one mode (cosine, BM25 or fused score)."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None


class Retriever(Protocol):
    """Anything that returns the ``k`` best chunks for a question, best first."""

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]: ...


class DenseRetriever:
    """Cosine similarity between the embedded question and the chunk vectors (FAISS inner product)."""

    def __init__(self, index: CorpusIndex, encoder: QueryEncoder) -> None:
        self.index = index
        self.encoder = encoder

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]:
        """Return the ``k`` chunks closest to ``question``."""
        if k < 1 or not self.index.chunks:
            return []
        scores, positions = self.index.search_vectors(self.encoder.encode_queries([question]), k)
        return [
            ScoredChunk(self.index.chunks[p], float(s), rank, dense_score=float(s))
            for rank, (s, p) in enumerate((s, p) for s, p in zip(scores[0], positions[0], strict=True) if p >= 0)
        ]


def keyword_results(chunks: list[Chunk], found: list[tuple[int, float]], k: int) -> list[ScoredChunk]:
    """The best ``k`` of (chunk position, BM25 score) pairs as ``ScoredChunk``s, equal scores in passage order."""
    ordered = sorted(found, key=lambda pair: (-pair[1], pair[0]))[:k]
    return [ScoredChunk(chunks[p], s, rank, bm25_score=s) for rank, (p, s) in enumerate(ordered)]


class BM25Retriever:
    """Okapi BM25 (bm25s, English stopwords, Snowball English stemming) over each chunk's title-and-passage text."""

    def __init__(self, index: CorpusIndex) -> None:
        import bm25s
        import Stemmer

        # bm25s sets its own logger to DEBUG, which prints "Building index..." through any root handler.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self.chunks = index.chunks
        texts = [embedding_text(c, index.documents[c.doc_id]) for c in index.chunks]
        self._model = bm25s.BM25()
        if texts:
            self._model.index(
                bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False), show_progress=False
            )

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]:
        """Return up to ``k`` chunks that share a (non-stopword) term with ``question``."""
        if k < 1 or not self.chunks:
            return []
        tokens = self._bm25s.tokenize(
            [question], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        if not tokens or not tokens[0]:
            return []
        # Twice as deep as asked, then equal scores in passage order: which of several tied passages makes the
        # cut is then decided, not left to the library (and every store decides it alike).
        depth = min(2 * k, len(self.chunks))
        positions, scores = self._model.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
        results = [(int(p), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if s > 0]
        return keyword_results(self.chunks, results, k)


class StoreKeywordRetriever:
    """BM25 run by the index's own store (``index.keyword_search``, e.g. Milvus full-text search)."""

    def __init__(self, index: CorpusIndex) -> None:
        self.index = index

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]:
        """Return up to ``k`` chunks that share a (non-stopword) term with ``question``."""
        if k < 1 or not self.index.chunks:
            return []
        found = self.index.keyword_search(question, min(2 * k, len(self.index.chunks)))
        return keyword_results(self.index.chunks, [(p, s) for p, s in found if s > 0], k)


Fusion = Literal["rrf", "convex"]
FUSIONS: tuple[str, ...] = ("rrf", "convex")


class HybridRetriever:
    """Fuse dense and BM25 results over the top ``max(depth, 4k)`` candidates of each.

    ``fusion="rrf"`` (default), reciprocal rank fusion: score = sum over retrievers of 1 / (rrf_k + rank),
    rank from 1. ``fusion="convex"``: score = alpha * dense + (1 - alpha) * BM25, each min-max normalised over
    its own candidates (a candidate the other retriever did not return gets 0 from it).
    ``rrf_k=5``, ``depth=100`` and ``alpha=0.5`` were chosen on 2,059 paragraphs of SQuAD 1.1 *train*
    (``bench/retrieval_squad.py --tune``), never on the dev set the benchmark reports.
    """

    def __init__(
        self,
        dense: Retriever,
        bm25: Retriever,
        *,
        fusion: Fusion = "rrf",
        rrf_k: int = 5,
        depth: int = 100,
        alpha: float = 0.5,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}")
        self.dense = dense
        self.bm25 = bm25
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.depth = depth
        self.alpha = alpha

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]:
        """Return the best ``k`` fused chunks, best first."""
        if k < 1:
            return []
        depth = max(self.depth, 4 * k)
        fused: dict[str, dict] = {}
        for name, results in (
            ("dense", self.dense.retrieve(question, depth)),
            ("bm25", self.bm25.retrieve(question, depth)),
        ):
            weight = self.alpha if name == "dense" else 1.0 - self.alpha
            if results:
                high, low = results[0].score, results[-1].score
            for result in results:
                entry = fused.setdefault(result.chunk.chunk_id, {"chunk": result.chunk, "score": 0.0})
                if self.fusion == "rrf":
                    entry["score"] += 1.0 / (self.rrf_k + result.rank + 1)
                else:
                    entry["score"] += weight * ((result.score - low) / (high - low) if high > low else 1.0)
                entry[name] = result.score
        ordered = sorted(fused.values(), key=lambda e: (-e["score"], e["chunk"].doc_id, e["chunk"].index))[:k]
        return [
            ScoredChunk(e["chunk"], e["score"], rank, dense_score=e.get("dense"), bm25_score=e.get("bm25"))
            for rank, e in enumerate(ordered)
        ]


class CorpusRetriever:
    """One ``retrieve(question, k, mode=...)`` over an index, with the BM25 model built once."""

    def __init__(self, index: CorpusIndex, encoder: QueryEncoder) -> None:
        self.index = index
        self.dense = DenseRetriever(index, encoder)
        # A store that searches keywords itself (Milvus) does; otherwise BM25 is built here, in memory.
        self.bm25: Retriever = StoreKeywordRetriever(index) if index.searches_keywords else BM25Retriever(index)
        self.hybrid = HybridRetriever(self.dense, self.bm25)

    def retrieve(self, question: str, k: int = 5, *, mode: str = "hybrid") -> list[ScoredChunk]:
        """Return the ``k`` best chunks for ``question``, best first. Raises ``ValueError`` for an unknown mode."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        return getattr(self, mode).retrieve(question, k)
