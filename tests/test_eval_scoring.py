"""Eval aggregation: abstention scoring, stage blame, recall and citation accuracy on crafted records."""

from __future__ import annotations

import pytest

from eval.scoring import aggregate, blame, percentile


def _record(**overrides):
    record = {
        "answerable": True,
        "prediction": "5,000",
        "em": 1.0,
        "f1": 1.0,
        "doc": "a.txt",
        "citation_doc": "a.txt",
        "gold_doc_rank": 1,
        "top_k": 5,
        "latency_ms": 100.0,
        "kind": "number",
        "isolated_em": 1.0,
        "isolated_f1": 1.0,
    }
    record.update(overrides)
    return record


def test_blame_names_the_stage():
    assert blame(_record()) is None
    assert blame(_record(f1=0.0, gold_doc_rank=None)) == "retrieval"
    assert blame(_record(f1=0.0, gold_doc_rank=7)) == "retrieval"
    assert blame(_record(f1=0.0, prediction=None)) == "abstention"
    assert blame(_record(f1=0.2)) == "reading"
    assert blame(_record(answerable=False, prediction=None)) is None
    assert blame(_record(answerable=False, prediction="x")) == "false_answer"


def test_aggregate_hand_computed():
    records = [
        _record(),
        _record(prediction="450", em=0.0, f1=0.0, gold_doc_rank=2, citation_doc="b.txt", latency_ms=300.0),
        _record(
            answerable=False,
            prediction=None,
            em=1.0,
            f1=1.0,
            doc=None,
            citation_doc=None,
            gold_doc_rank=None,
            kind="unanswerable",
            latency_ms=200.0,
        ),
        _record(
            answerable=False,
            prediction="x",
            em=0.0,
            f1=0.0,
            doc=None,
            citation_doc="a.txt",
            gold_doc_rank=None,
            kind="unanswerable",
            latency_ms=400.0,
        ),
    ]
    summary = aggregate(records)
    assert summary["F1"] == 0.5 and summary["HasAns_F1"] == 0.5 and summary["NoAns_accuracy"] == 0.5
    assert summary["retrieval_recall@1"] == 0.5 and summary["retrieval_recall@5"] == 1.0
    assert summary["retrieval_mrr"] == pytest.approx(0.75)
    assert summary["citation_accuracy"] == 0.5
    assert summary["latency_ms_p50"] == 250.0
    assert summary["errors_by_stage"] == {"false_answer": 1, "reading": 1}
    assert summary["F1_by_kind"] == {"number": 0.5, "unanswerable": 0.5}


def test_percentile():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
