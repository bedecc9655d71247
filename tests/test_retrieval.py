"""One contract, run over every retriever: dense, BM25 and hybrid."""

from __future__ import annotations

import itertools

import pytest

from embeddings.index import load_index
from embeddings.retrieval import MODES, CorpusRetriever, HybridRetriever


@pytest.fixture
def retriever(small_index, fake_encoder):
    _, index_dir = small_index
    index = load_index(index_dir, encoder_id=fake_encoder.encoder_id, dimension=fake_encoder.dimension)
    return CorpusRetriever(index, fake_encoder)


@pytest.mark.parametrize("mode", MODES)
class TestRetrieverContract:
    def test_best_first_and_at_most_k(self, retriever, mode):
        results = retriever.retrieve("How many Hellfire missiles were delivered in July?", 2, mode=mode)
        assert 1 <= len(results) <= 2
        assert [r.rank for r in results] == list(range(len(results)))
        assert all(a.score >= b.score for a, b in itertools.pairwise(results))

    def test_finds_the_passage_that_shares_the_question_words(self, retriever, mode):
        results = retriever.retrieve("Hellfire missiles delivered in July 450", 3, mode=mode)
        assert "Some 450 missiles were delivered in July" in results[0].chunk.text

    def test_no_duplicates(self, retriever, mode):
        results = retriever.retrieve("Iraq", 10, mode=mode)
        ids = [r.chunk.chunk_id for r in results]
        assert len(ids) == len(set(ids))

    def test_zero_k_gives_nothing(self, retriever, mode):
        assert retriever.retrieve("Iraq", 0, mode=mode) == []

    def test_scores_carry_their_component(self, retriever, mode):
        result = retriever.retrieve("missiles delivered", 1, mode=mode)[0]
        if mode in ("dense", "hybrid"):
            assert result.dense_score is not None
        if mode in ("bm25", "hybrid"):
            assert result.bm25_score is not None


def test_unknown_mode_is_refused(retriever):
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        retriever.retrieve("Iraq", 3, mode="sparse")


def test_bm25_returns_nothing_for_stopwords_only(retriever):
    assert retriever.retrieve("the of and", 3, mode="bm25") == []


def test_hybrid_fuses_by_reciprocal_rank(retriever):
    question = "How much is the missile deal worth?"
    hybrid = retriever.hybrid
    assert hybrid.fusion == "rrf"
    depth = hybrid.depth
    dense = {r.chunk.chunk_id: r.rank for r in retriever.retrieve(question, depth, mode="dense")}
    bm25 = {r.chunk.chunk_id: r.rank for r in retriever.retrieve(question, depth, mode="bm25")}
    for result in retriever.retrieve(question, 5, mode="hybrid"):
        expected = sum(
            1 / (hybrid.rrf_k + ranks[result.chunk.chunk_id] + 1)
            for ranks in (dense, bm25)
            if result.chunk.chunk_id in ranks
        )
        assert result.score == pytest.approx(expected)


def test_convex_fusion_mixes_min_max_normalised_scores(retriever):
    question = "How much is the missile deal worth?"
    fused = HybridRetriever(retriever.dense, retriever.bm25, fusion="convex", alpha=0.3)
    dense = retriever.retrieve(question, fused.depth, mode="dense")
    bm25 = retriever.retrieve(question, fused.depth, mode="bm25")

    def normalised(results):
        high, low = results[0].score, results[-1].score
        return {r.chunk.chunk_id: (r.score - low) / (high - low) for r in results}

    dense_norm, bm25_norm = normalised(dense), normalised(bm25)
    results = fused.retrieve(question, 5)
    assert len(results) == 5
    for result in results:
        expected = 0.3 * dense_norm.get(result.chunk.chunk_id, 0.0) + 0.7 * bm25_norm.get(result.chunk.chunk_id, 0.0)
        assert result.score == pytest.approx(expected)
        assert 0.0 <= result.score <= 1.0


def test_unknown_fusion_is_refused(retriever):
    with pytest.raises(ValueError, match="unknown fusion"):
        HybridRetriever(retriever.dense, retriever.bm25, fusion="max")  # type: ignore[arg-type]  # the bad value is the test


def test_bm25_matches_inflected_forms(retriever):
    # "delivering" and "delivered" share the stem "deliv"; without stemming the query shares no term.
    results = retriever.retrieve("delivering", 3, mode="bm25")
    assert results and any("delivered" in r.chunk.text for r in results)
