"""Reader benchmark: official-normalisation EM/F1 on SQuAD 1.1 dev and SQuAD 2.0 dev (HasAns/NoAns),
and reader latency for one question over 1 and 5 passages of ~150 words, for fp32 and int8 weights.

SQuAD 1.1: the best span of each question's paragraph (no abstention). SQuAD 2.0: answer when the
margin beats the shipped threshold (chosen on held-out *train* articles, never on these files). Both run
on the backend the model ships with (``calibration.json``); a subset compares fp32 with the int8 variant.
Passages are read under their article's title line when the reader was calibrated that way (as the
pipeline reads corpus passages under their dateline); ``--passage-header none`` gives the standard
context-only protocol.
With ``--rereader DIR`` both SQuAD sets are scored as the pipeline decides with a rereader.
Run: ``python bench/reader_squad.py [--limit N] [--rereader DIR] [--int8-subset 2000]
[--passage-header auto|none|title]``; reads ../shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.scoring import percentile
from qa.metrics import exact_match, f1_score
from qa.questions import question_overlap, reading_question
from qa.reader import ReaderModel


def load_questions(path: Path, limit: int | None) -> list[dict]:
    rows = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                rows.append(
                    {
                        "question": qa["question"],
                        "context": paragraph["context"],
                        "answers": answers,
                        "title": article["title"].replace("_", " "),
                    }
                )
    return rows[:limit] if limit else rows


def oracle_threshold(sweep: list[tuple[float, float, float]], n: int) -> dict:
    """The official SQuAD 2.0 script's diagnostic "best_f1": F1 at the threshold that is best *on this file*.

    Only a diagnostic of how much the no-answer decision costs: the shipped threshold never sees dev data.
    """
    sweep = sorted(sweep, key=lambda row: -row[0])
    total = sum(abstained for _, _, abstained in sweep)  # everything abstained
    best, best_threshold = total, float("inf")
    for margin, answered, abstained in sweep:
        total += answered - abstained
        if total > best:
            best, best_threshold = total, margin
    return {"oracle_F1": round(100 * best / n, 2), "oracle_threshold": round(best_threshold - 1e-6, 4)}


def best_spans(reader: ReaderModel, rows: list[dict], header: bool) -> list[list]:
    """Each row's best span (or none) as ``reader`` reads its paragraph, the question read as the pipeline
    reads it (``reading_question``) and the margin moved by the reader's ``overlap_weight`` as the pipeline
    moves it (``qa.grouping.answer_groups``: one paragraph, so one move for every span of a question)."""
    spans = []
    weight = reader.calibration.overlap_weight
    for offset in range(0, len(rows), 64):
        chunk = rows[offset : offset + 64]
        asked = [reading_question(r["question"]) for r in chunk]
        headers = [r["title"] if header else "" for r in chunk]
        read = reader.read_many(
            [(q, [r["context"]], [h]) for q, r, h in zip(asked, chunk, headers, strict=True)], n_best=1
        )
        if weight:
            read = [
                [
                    dataclasses.replace(c, score=c.score + weight * question_overlap(q, f"{h}\n{r['context']}"))
                    for c in candidates
                ]
                for candidates, q, r, h in zip(read, asked, chunk, headers, strict=True)
            ]
        spans += read
    return spans


def score(
    reader: ReaderModel,
    rows: list[dict],
    *,
    abstain: bool,
    header: bool = False,
    rereader: ReaderModel | None = None,
    rereader_header: bool = False,
) -> dict:
    """EM/F1 (and with ``abstain`` the SQuAD 2.0 split). With ``rereader``, as the pipeline decides: a
    question whose best span from ``reader`` is not clearly ahead (below its stop margin) is read again by
    ``rereader``, whose span and threshold decide. (The pipeline's answer-type check and date bonus are not
    applied here, on either reader: a paragraph has no date, and the benchmark scores the readers.)"""
    totals = {"em": 0.0, "f1": 0.0, "has_em": 0.0, "has_f1": 0.0, "has": 0, "no_right": 0, "no": 0}
    began = time.perf_counter()
    all_candidates = best_spans(reader, rows, header)
    thresholds = [reader.calibration.threshold] * len(rows)
    reread = 0
    if rereader is not None:
        gate = reader.calibration.stop_margin
        unsure = [i for i, c in enumerate(all_candidates) if gate is None or not c or c[0].margin < gate]
        again = best_spans(rereader, [rows[i] for i in unsure], rereader_header)
        for i, candidates in zip(unsure, again, strict=True):
            all_candidates[i], thresholds[i] = candidates, rereader.calibration.threshold
        reread = len(unsure)
    sweep = []  # (margin, F1 if answered, F1 if abstained) per question, for the oracle-threshold diagnostic
    for row, candidates, threshold in zip(rows, all_candidates, thresholds, strict=True):
        prediction = candidates[0].text if candidates else None
        margin = candidates[0].margin if candidates else float("-inf")
        sweep.append((margin, f1_score(prediction, row["answers"]), f1_score(None, row["answers"])))
        if abstain and candidates and candidates[0].margin <= threshold:
            prediction = None
        em, f1 = exact_match(prediction, row["answers"]), f1_score(prediction, row["answers"])
        totals["em"] += em
        totals["f1"] += f1
        if row["answers"]:
            totals["has"] += 1
            totals["has_em"] += em
            totals["has_f1"] += f1
        else:
            totals["no"] += 1
            totals["no_right"] += em
    n = len(rows)
    result = {
        "questions": n,
        "EM": round(100 * totals["em"] / n, 2),
        "F1": round(100 * totals["f1"] / n, 2),
        "seconds": round(time.perf_counter() - began, 1),
    }
    if rereader is not None:
        result["reread_share"] = round(reread / n, 4)
    if abstain:
        result.update(
            {
                "HasAns_EM": round(100 * totals["has_em"] / max(totals["has"], 1), 2),
                "HasAns_F1": round(100 * totals["has_f1"] / max(totals["has"], 1), 2),
                "NoAns_accuracy": round(100 * totals["no_right"] / max(totals["no"], 1), 2),
                "HasAns_count": totals["has"],
                "NoAns_count": totals["no"],
                "threshold": reader.calibration.threshold,
                **({"rereader_threshold": rereader.calibration.threshold} if rereader is not None else {}),
                # One threshold over two readers' margins would mean nothing: the oracle only for one reader.
                **(oracle_threshold(sweep, n) if rereader is None else {}),
            }
        )
    return result


def latency(reader: ReaderModel, contexts: list[str], *, passages: int, repeats: int = 30) -> dict:
    question = "What did the report say about the number of people involved?"
    reader.read(question, contexts[:passages])  # warm up
    timings = []
    for i in range(repeats):
        chosen = [contexts[(i + j) % len(contexts)] for j in range(passages)]
        began = time.perf_counter()
        reader.read(question, chosen)
        timings.append(1000 * (time.perf_counter() - began))
    return {
        "passages": passages,
        "p50_ms": round(percentile(timings, 50), 1),
        "p95_ms": round(percentile(timings, 95), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad1", default="../shared/data/squad/dev-v1.1.json")
    parser.add_argument("--squad2", default="../shared/data/squad/dev-v2.0.json")
    parser.add_argument("--model", default=None, help="reader folder (default models/reader)")
    parser.add_argument(
        "--rereader",
        default=None,
        help="a second reader folder: SQuAD scores as the pipeline decides with it (re-reads what --model is "
        "unsure of)",
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--int8-subset", type=int, default=2000, help="SQuAD 1.1 questions to compare fp32 vs int8 on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench/results/reader_squad.json")
    parser.add_argument(
        "--passage-header",
        choices=("auto", "none", "title"),
        default="auto",
        help="read passages under their article title: auto follows the reader's calibration",
    )
    parser.add_argument(
        "--int8-backend",
        choices=("int8", "onnx-int8"),
        default="onnx-int8",
        help="the quantised variant to compare: torch dynamic int8 or ONNX Runtime int8",
    )
    parser.add_argument("--sets", default="latency,squad1,squad2,int8", help="comma-separated parts to run")
    args = parser.parse_args()
    parts = set(args.sets.split(","))
    shipped = ReaderModel(args.model, threads=args.threads)  # the backend its threshold was calibrated for
    fp32 = ReaderModel(args.model, backend="fp32", threads=args.threads)
    int8 = ReaderModel(args.model, backend=args.int8_backend, threads=args.threads)
    squad1 = load_questions(Path(args.squad1), args.limit)
    squad2 = load_questions(Path(args.squad2), args.limit)
    contexts = sorted(
        {r["context"] for r in load_questions(Path(args.squad1), None) if 130 <= len(r["context"].split()) <= 170}
    )
    rereader = ReaderModel(args.rereader, threads=args.threads) if args.rereader else None
    header = shipped.calibration.passage_header if args.passage_header == "auto" else args.passage_header == "title"
    # Each reader reads as it was calibrated (as the pipeline does), unless a header mode is forced.
    reheader = rereader.calibration.passage_header if rereader and args.passage_header == "auto" else header
    results = {
        "model": str(fp32.model_dir),
        "threads": args.threads,
        "passage_header": "title" if header else "none",
        "shipped_backend": shipped.backend,
        "rereader": str(rereader.model_dir) if rereader is not None else None,
        "int8_backend": args.int8_backend,
    }
    if "latency" in parts:
        results["latency_fp32"] = [latency(fp32, contexts, passages=n) for n in (1, 5)]
        results["latency_int8"] = [latency(int8, contexts, passages=n) for n in (1, 5)]
        print(json.dumps(results, indent=1), flush=True)
    if "squad1" in parts:
        results["squad1_dev"] = score(
            shipped, squad1, abstain=False, header=header, rereader=rereader, rereader_header=reheader
        )
        print("squad1", results["squad1_dev"], flush=True)
    if "squad2" in parts:
        results["squad2_dev"] = score(
            shipped, squad2, abstain=True, header=header, rereader=rereader, rereader_header=reheader
        )
        print("squad2", results["squad2_dev"], flush=True)
    if "int8" in parts:
        subset = squad1[:: max(1, len(squad1) // args.int8_subset)][: args.int8_subset]
        results["int8_vs_fp32_on_squad1_subset"] = {
            "fp32": score(fp32, subset, abstain=False, header=header),
            "int8": score(int8, subset, abstain=False, header=header),
        }
        print("int8", results["int8_vs_fp32_on_squad1_subset"], flush=True)
    results["command"] = "python bench/reader_squad.py " + " ".join(sys.argv[1:])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
