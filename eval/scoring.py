"""Per-question records and the aggregate figures of the eval report (pure functions, no models)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, the one definition every report and bench
    uses. Raises ``ValueError`` for no values."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """The area under the ROC curve of ``scores`` for telling ``positive`` items from the others: the
    chance that a random positive scores above a random negative, ties counting half (Mann-Whitney U).
    None when either class is empty. Raises ``ValueError`` when the two sequences differ in length."""
    if len(scores) != len(positive):
        raise ValueError("give one label per score")
    ranked = sorted(zip(scores, positive, strict=True), key=lambda pair: pair[0])
    n_pos = sum(1 for _, p in ranked if p)
    n_neg = len(ranked) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = 0.0  # sum of the positives' (1-based, tie-averaged) ranks
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2
        rank_sum += average_rank * sum(1 for _, p in ranked[i:j] if p)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def reliability(confidences: Sequence[float], right: Sequence[bool], *, bins: int = 10) -> dict:
    """Confidence against how often it was right, in ``bins`` equal-width bins of [0, 1]: each bin's
    count, mean confidence and share right (empty bins are left out), and the expected calibration error
    (the count-weighted mean gap between the two). Raises ``ValueError`` for lengths that differ."""
    if len(confidences) != len(right):
        raise ValueError("give one label per confidence")
    rows: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, ok in zip(confidences, right, strict=True):
        rows[min(bins - 1, max(0, int(confidence * bins)))].append((confidence, ok))
    table = []
    gap = 0.0
    for b, members in enumerate(rows):
        if not members:
            continue
        mean_confidence = sum(c for c, _ in members) / len(members)
        accuracy = sum(1 for _, ok in members if ok) / len(members)
        gap += len(members) * abs(mean_confidence - accuracy)
        table.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "count": len(members),
                "mean_confidence": round(mean_confidence, 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return {"bins": table, "ECE": round(gap / len(confidences), 4) if confidences else None}


def answer_is_right(record: dict) -> bool:
    """An answer given is right when its question is answerable and it scores F1 >= 0.5."""
    return bool(record["answerable"]) and record["f1"] >= 0.5


def reply_is_right(record: dict) -> bool:
    """A reply is right when it answers an answerable question (F1 >= 0.5) or abstains on one that the
    corpus does not answer."""
    if record["prediction"] is None:
        return not record["answerable"]
    return answer_is_right(record)


def confidence_figures(records: list[dict]) -> dict:
    """How well the shown confidence tells right from wrong: AUROC over the answers given (right: F1 >= 0.5
    on an answerable question; wrong: anything else, false answers included) and over every reply (an
    abstention's score is its confidence that there is no answer), with the reliability table of each."""
    answered = [r for r in records if r["prediction"] is not None]
    answer_scores = [r["score"] for r in answered]
    answer_right = [answer_is_right(r) for r in answered]
    reply_scores = [r["score"] for r in records]
    reply_right = [reply_is_right(r) for r in records]
    answer_auroc = auroc(answer_scores, answer_right)
    reply_auroc = auroc(reply_scores, reply_right)
    return {
        "confidence_auroc": round(answer_auroc, 4) if answer_auroc is not None else None,
        "confidence_auroc_counts": {"right": sum(answer_right), "wrong": len(answer_right) - sum(answer_right)},
        "reply_confidence_auroc": round(reply_auroc, 4) if reply_auroc is not None else None,
        "reliability_answers": reliability(answer_scores, answer_right),
        "reliability_replies": reliability(reply_scores, reply_right),
    }


def blame(record: dict) -> str | None:
    """Which stage lost an answerable question (F1 < 0.5): retrieval, abstention or reading; for an
    unanswerable one: false_answer. None when the question was handled right."""
    if not record["answerable"]:
        return None if record["prediction"] is None else "false_answer"
    if record["f1"] >= 0.5:
        return None
    if record["gold_doc_rank"] is None or record["gold_doc_rank"] > record["top_k"]:
        return "retrieval"
    if record["prediction"] is None:
        return "abstention"
    return "reading"


def aggregate(records: list[dict]) -> dict:
    """Overall, HasAns and NoAns scores, retrieval recall/MRR, citation accuracy, isolated reader,
    latency, per-kind F1, the count of errors blamed on each stage, and how well confidence separates
    right from wrong (``confidence_figures``)."""

    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 4) if values else None

    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if r["prediction"] is not None]
    ranks = [r["gold_doc_rank"] for r in answerable]
    latencies = [r["latency_ms"] for r in records]
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_kind[record["kind"]].append(record)
    blames: dict[str, int] = defaultdict(int)
    for record in records:
        stage = blame(record)
        if stage:
            blames[stage] += 1
    return {
        "questions": len(records),
        "EM": mean(r["em"] for r in records),
        "F1": mean(r["f1"] for r in records),
        "HasAns_EM": mean(r["em"] for r in answerable),
        "HasAns_F1": mean(r["f1"] for r in answerable),
        "HasAns_count": len(answerable),
        "NoAns_accuracy": mean(r["em"] for r in unanswerable),
        "NoAns_count": len(unanswerable),
        "answered_rate_on_answerable": mean(r["prediction"] is not None for r in answerable),
        "retrieval_recall@1": mean(r is not None and r <= 1 for r in ranks),
        "retrieval_recall@5": mean(r is not None and r <= 5 for r in ranks),
        "retrieval_mrr": mean(1 / r if r else 0.0 for r in ranks),
        "citation_accuracy": mean(r["citation_doc"] == r["doc"] for r in answered),
        "citation_accuracy_over_answerable": mean(r["citation_doc"] == r["doc"] for r in answerable),
        "isolated_reader_EM": mean(r["isolated_em"] for r in answerable),
        "isolated_reader_F1": mean(r["isolated_f1"] for r in answerable),
        "latency_ms_p50": round(percentile(latencies, 50), 1) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 95), 1) if latencies else None,
        "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
        "F1_by_kind": {kind: mean(r["f1"] for r in rows) for kind, rows in sorted(by_kind.items())},
        "count_by_kind": {kind: len(rows) for kind, rows in sorted(by_kind.items())},
        "errors_by_stage": dict(sorted(blames.items())),
        **confidence_figures(records),
    }
