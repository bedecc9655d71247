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
    latency, per-kind F1 and the count of errors blamed on each stage."""

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
    }
