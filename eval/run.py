"""Score the system on gold sets: ``python -m eval [--gold F ...] [--out DIR] [--top-k N] [--mode M]``.

Every question goes through ``qa.answer()`` (integrated); every answerable one also through the reader
alone over its gold document's passages (isolated), so a miss can be blamed on retrieval, reading or
abstention. Writes ``report.json`` and PNG plots per gold file and prints a summary table for each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

import qa
from embeddings.chunking import Chunk
from embeddings.retrieval import MODES
from eval.gold import GoldFormatError, load_gold
from eval.scoring import aggregate, blame
from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, PROJECT_ROOT
from qa.metrics import exact_match, f1_score
from qa.pipeline import QuestionAnswerer
from qa.reader import ReaderModel

# The gold files scored by default, those of them that exist.
DEFAULT_GOLD = (PROJECT_ROOT / "eval" / "gold.jsonl", PROJECT_ROOT / "eval" / "gold_hard.jsonl")
# How deep the gold document is looked for in the retrieved list (for recall@k and MRR).
RANK_DEPTH = 20


def run(
    gold_path: Path,
    *,
    top_k: int,
    mode: str,
    index_dir: str | Path | None = None,
    corpus_dir: str | Path | None = None,
    reader_dir: str | Path | None = None,
    rereader_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Answer every gold question and return the report (records and aggregates). ``reader_dir``: another
    exported reader to evaluate instead of the shipped one (e.g. a candidate before it is shipped);
    ``rereader_dir``: a reader to re-read what the first one is unsure of (``qa.pipeline.QuestionAnswerer``;
    the first is then ``reader_dir`` or the shipped ``models/reader``)."""
    questions = load_gold(gold_path)
    if reader_dir is None and rereader_dir is None:
        answerer = qa.get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).load()
    else:
        answerer = QuestionAnswerer(
            index_dir=index_dir,
            corpus_dir=corpus_dir,
            reader=ReaderModel(reader_dir) if reader_dir is not None else ReaderModel(),
            rereader=ReaderModel(rereader_dir) if rereader_dir is not None else None,
        ).load()
    if questions:  # one untimed question first, so the first timing is not a cold one
        answerer.answer(questions[0].question, top_k=top_k, mode=mode)
    records = []
    # A bar on a terminal only (disable=None); the timings are taken per question, outside its updates.
    for gold in tqdm(questions, desc=f"eval {gold_path.name}", unit="question", disable=None, leave=False):
        began = time.perf_counter()
        result = answerer.answer(gold.question, top_k=top_k, mode=mode)
        latency_ms = 1000 * (time.perf_counter() - began)
        gold_answers = list(gold.answers)
        retrieved_docs: list[str] = []
        for scored in answerer.retrieve(gold.question, top_k=RANK_DEPTH, mode=mode):
            if scored.chunk.doc_id not in retrieved_docs:
                retrieved_docs.append(scored.chunk.doc_id)
        record = {
            "id": gold.qid,
            "kind": gold.kind,
            "paraphrase": gold.paraphrase,
            "question": gold.question,
            "answers": gold_answers,
            "doc": gold.doc,
            "answerable": gold.answerable,
            "top_k": top_k,
            "prediction": result.text,
            "score": result.score,
            "em": exact_match(result.text, gold_answers),
            "f1": f1_score(result.text, gold_answers),
            "citation_doc": result.citations[0].doc_id if result.citations else None,
            "citation_date": result.citations[0].date if result.citations else None,
            "alternatives": [a.text for a in result.alternatives],
            "gold_doc_rank": retrieved_docs.index(gold.doc) + 1 if gold.doc in retrieved_docs else None,
            "latency_ms": round(latency_ms, 1),
        }
        if gold.answerable:
            chunks = answerer.index.chunks_of(gold.doc) if gold.doc else ()
            isolated = answerer.answer_from_passages(gold.question, chunks)
            # The isolated reader is scored on its best span, abstention aside: it measures reading alone.
            best = isolated.text if isolated.text is not None else _best_span(answerer, gold.question, chunks)
            record.update(
                isolated_prediction=best,
                isolated_em=exact_match(best, gold_answers),
                isolated_f1=f1_score(best, gold_answers),
            )
        record["error_stage"] = blame(record)
        records.append(record)
    return {"gold": str(gold_path), "mode": mode, "top_k": top_k, "summary": aggregate(records), "questions": records}


def _best_span(answerer: QuestionAnswerer, question: str, chunks: Sequence[Chunk]) -> str | None:
    # An abstention comes from the rereader when there is one: the first reader never abstains when it is
    # clearly ahead, and otherwise hands over.
    reader = answerer.rereader or answerer.reader
    candidates = reader.read(
        question,
        [c.text for c in chunks],
        headers=[answerer.reading_header(c.doc_id, reader=reader) for c in chunks],
        n_best=1,
    )
    return candidates[0].text if candidates else None


def write_plots(report: dict[str, Any], out: Path) -> list[str]:
    """F1 by question kind, the latency distribution and the confidence's reliability, as PNG files in
    ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = report["summary"]
    kinds = list(summary["F1_by_kind"])
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.bar(kinds, [summary["F1_by_kind"][k] for k in kinds], color="#3b6ea5")
    for i, kind in enumerate(kinds):
        axis.text(i, summary["F1_by_kind"][kind] + 0.01, f"n={summary['count_by_kind'][kind]}", ha="center", fontsize=8)
    axis.set_ylim(0, 1.1)
    axis.set_ylabel("F1")
    axis.set_title(f"F1 by question kind (overall {summary['F1']:.3f})")
    plt.setp(axis.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(out / "f1_by_kind.png", dpi=110)
    plt.close(figure)
    latencies = [r["latency_ms"] for r in report["questions"]]
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.hist(latencies, bins=30, color="#a5673b")
    axis.axvline(summary["latency_ms_p50"], color="k", linestyle="--", label=f"p50 {summary['latency_ms_p50']:.0f} ms")
    axis.axvline(summary["latency_ms_p95"], color="r", linestyle=":", label=f"p95 {summary['latency_ms_p95']:.0f} ms")
    axis.set_xlabel("qa.answer latency (ms)")
    axis.set_ylabel("questions")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "latency.png", dpi=110)
    plt.close(figure)
    _reliability_plot(plt, summary, out / "reliability.png")
    return ["f1_by_kind.png", "latency.png", "reliability.png"]


def _reliability_plot(plt: Any, summary: dict[str, Any], path: Path) -> None:
    """Confidence against the share right, per bin, for the answers given and for every reply; a
    well-calibrated confidence lies on the diagonal. Marker area follows the bin's count."""
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfect calibration")
    series = (
        ("reliability_answers", "confidence_auroc", "answers given", "#3b6ea5"),
        ("reliability_replies", "reply_confidence_auroc", "every reply (abstentions too)", "#a5673b"),
    )
    for key, auroc_key, label, colour in series:
        bins = summary[key]["bins"]
        if not bins:
            continue
        auroc = summary[auroc_key]
        auroc_text = f"AUROC {auroc:.2f}" if auroc is not None else "AUROC n/a"
        axis.plot(
            [b["mean_confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            color=colour,
            label=f"{label}: {auroc_text}, ECE {summary[key]['ECE']:.2f}",
        )
        axis.scatter(
            [b["mean_confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            s=[12 + 4 * b["count"] for b in bins],
            color=colour,
            alpha=0.35,
        )
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("confidence shown (bin mean)")
    axis.set_ylabel("share right")
    axis.set_title("Reliability of the confidence")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def summary_table(summary: dict[str, Any]) -> str:
    """The aggregate figures as an aligned text table."""
    keys = [
        "questions",
        "EM",
        "F1",
        "HasAns_EM",
        "HasAns_F1",
        "NoAns_accuracy",
        "answered_rate_on_answerable",
        "retrieval_recall@1",
        "retrieval_recall@5",
        "retrieval_mrr",
        "citation_accuracy",
        "citation_accuracy_over_answerable",
        "isolated_reader_EM",
        "isolated_reader_F1",
        "latency_ms_p50",
        "latency_ms_p95",
        "confidence_auroc",
        "reply_confidence_auroc",
    ]
    lines = [f"{key:<36}{summary[key]}" for key in keys]
    ece = f"{summary['reliability_answers']['ECE']} / {summary['reliability_replies']['ECE']}"
    lines.append(f"{'confidence ECE (answers / replies)':<36}{ece}")
    lines.append(f"{'errors_by_stage':<36}{summary['errors_by_stage']}")
    lines.append("F1 by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in summary["F1_by_kind"].items()))
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path) -> None:
    """Write ``report.json`` and the plots into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = write_plots(report, out)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    """``python -m eval`` and ``qa eval``: score each gold file, write its report, print its table.

    One gold file writes into ``--out``; several write into ``--out/<file stem>/`` each. Returns the exit
    status (2, with a one-line message, for a bad gold file or an unusable index or model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(
        prog="python -m eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gold", nargs="+", default=None, help="gold .jsonl files (default: eval/gold.jsonl and eval/gold_hard.jsonl)"
    )
    parser.add_argument("--out", default="eval/report", help="folder for report.json and the plots")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="passages read per question")
    parser.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help="retrieval mode")
    parser.add_argument("--index", default=None, help="index folder (default: $QA_INDEX or ./index)")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: $QA_CORPUS or ./corpus)")
    parser.add_argument("--reader", default=None, help="an exported reader folder (default: models/reader)")
    parser.add_argument(
        "--rereader",
        default=None,
        help="an exported reader folder that re-reads the questions the first reader is unsure of",
    )
    args = parser.parse_args(argv)
    gold_paths = [Path(g) for g in args.gold] if args.gold else [p for p in DEFAULT_GOLD if p.exists()]
    out = Path(args.out)
    expected_errors: tuple[type[Exception], ...] = (GoldFormatError, FileNotFoundError, *qa.USER_ERRORS)
    for gold_path in gold_paths:
        try:
            report = run(
                gold_path,
                top_k=args.top_k,
                mode=args.mode,
                index_dir=args.index,
                corpus_dir=args.corpus,
                reader_dir=args.reader,
                rereader_dir=args.rereader,
            )
        except expected_errors as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        target = out if len(gold_paths) == 1 else out / gold_path.stem
        write_report(report, target)
        if len(gold_paths) > 1:
            print(f"== {gold_path}")
        print(summary_table(report["summary"]))
        print(f"\nreport: {target / 'report.json'}; plots: {', '.join(str(target / p) for p in report['plots'])}")
    return 0
