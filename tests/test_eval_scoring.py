"""Eval aggregation: abstention scoring, stage blame, recall and citation accuracy on crafted records."""

from __future__ import annotations

import pytest

from eval.scoring import aggregate, auroc, blame, percentile, reliability


def _record(**overrides):
    record = {
        "answerable": True,
        "prediction": "5,000",
        "score": 0.9,
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
    # Answers given: "5,000" (right, 0.9), "450" (wrong, 0.9) and "x" (a false answer, 0.9): all tie.
    assert summary["confidence_auroc"] == 0.5
    assert summary["confidence_auroc_counts"] == {"right": 1, "wrong": 2}
    # Replies: the abstention on the unanswerable question is right too.
    assert summary["reply_confidence_auroc"] == 0.5


def test_confidence_figures_separate_right_from_wrong():
    records = [
        _record(score=0.95),
        _record(score=0.7, prediction="450", em=0.0, f1=0.0),
        _record(answerable=False, prediction="x", score=0.6, em=0.0, f1=0.0),
        _record(answerable=False, prediction=None, score=0.8, em=1.0, f1=1.0),
        _record(prediction=None, score=0.4, em=0.0, f1=0.0),
    ]
    summary = aggregate(records)
    assert summary["confidence_auroc"] == 1.0  # the one right answer outscores both wrong ones
    assert summary["confidence_auroc_counts"] == {"right": 1, "wrong": 2}
    # Replies right: 0.95 and 0.8; wrong: 0.7, 0.6 and 0.4.
    assert summary["reply_confidence_auroc"] == 1.0
    table = summary["reliability_answers"]
    assert [b["count"] for b in table["bins"]] == [1, 1, 1]
    assert table["ECE"] == pytest.approx((0.6 + 0.7 + 0.05) / 3, abs=1e-4)


def test_auroc_counts_pairs_and_ties():
    assert auroc([0.1, 0.2, 0.3, 0.4], [False, False, True, True]) == 1.0
    assert auroc([0.1, 0.2, 0.3, 0.4], [True, True, False, False]) == 0.0
    # Pairs (right, wrong): (0.3 > 0.2), (0.3 = 0.3: a half), (0.1 < 0.2), (0.1 < 0.3) -> 1.5 / 4.
    assert auroc([0.3, 0.1, 0.2, 0.3], [True, True, False, False]) == pytest.approx(0.375)
    assert auroc([0.5, 0.6], [True, True]) is None
    with pytest.raises(ValueError, match="one label"):
        auroc([0.5], [True, False])


def test_reliability_bins_and_calibration_error():
    table = reliability([0.05, 0.15, 0.95, 1.0], [False, True, True, True], bins=10)
    assert [(b["low"], b["count"]) for b in table["bins"]] == [(0.0, 1), (0.1, 1), (0.9, 2)]
    assert table["bins"][2]["accuracy"] == 1.0 and table["bins"][2]["mean_confidence"] == 0.975
    assert table["ECE"] == pytest.approx((0.05 + 0.85 + 2 * 0.025) / 4, abs=1e-4)
    assert reliability([], []) == {"bins": [], "ECE": None}


def test_percentile():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
