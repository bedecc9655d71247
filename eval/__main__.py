"""Score the system on a gold set: ``python -m eval [--gold F] [--out DIR] [--top-k N] [--mode M]``.

Every question goes through ``qa.answer()`` (integrated); every answerable one also through the reader
alone over its gold document's passages (isolated), so a miss can be blamed on retrieval, reading or
abstention. Writes ``report.json`` and PNG plots to ``--out`` and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.gold import GoldFormatError, load_gold  # noqa: E402
from eval.scoring import aggregate, blame  # noqa: E402
from qa.metrics import exact_match, f1_score  # noqa: E402


def run(gold_path: Path, *, top_k: int, mode: str, index_dir=None, corpus_dir=None, reader_dir=None) -> dict:
    """Answer every gold question and return the report (records and aggregates). ``reader_dir``: another
    exported reader to evaluate instead of the shipped one (e.g. a candidate before it is shipped)."""
    import qa

    questions = load_gold(gold_path)
    if reader_dir is None:
        answerer = qa.get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).load()
    else:
        from qa.pipeline import QuestionAnswerer
        from qa.reader import ReaderModel

        answerer = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus_dir, reader=ReaderModel(reader_dir)).load()
    chunks_by_doc: dict[str, list] = {}
    for chunk in answerer.index.chunks:
        chunks_by_doc.setdefault(chunk.doc_id, []).append(chunk)
    answerer.answer("warm-up question about Iraq?", top_k=top_k, mode=mode)
    records = []
    for gold in questions:
        began = time.perf_counter()
        result = answerer.answer(gold.question, top_k=top_k, mode=mode)
        latency_ms = 1000 * (time.perf_counter() - began)
        gold_answers = list(gold.answers)
        retrieved_docs: list[str] = []
        for scored in answerer.retrieve(gold.question, top_k=20, mode=mode):
            if scored.chunk.doc_id not in retrieved_docs:
                retrieved_docs.append(scored.chunk.doc_id)
        record = {
            "id": gold.qid, "kind": gold.kind, "paraphrase": gold.paraphrase, "question": gold.question,
            "answers": gold_answers, "doc": gold.doc, "answerable": gold.answerable, "top_k": top_k,
            "prediction": result.text, "score": result.score,
            "em": exact_match(result.text, gold_answers), "f1": f1_score(result.text, gold_answers),
            "citation_doc": result.citations[0].doc_id if result.citations else None,
            "citation_date": result.citations[0].date if result.citations else None,
            "alternatives": [a.text for a in result.alternatives],
            "gold_doc_rank": retrieved_docs.index(gold.doc) + 1 if gold.doc in retrieved_docs else None,
            "latency_ms": round(latency_ms, 1),
        }
        if gold.answerable:
            isolated = answerer.answer_from_passages(gold.question, chunks_by_doc.get(gold.doc, []))
            # The isolated reader is scored on its best span, abstention aside: it measures reading alone.
            best = isolated.text if isolated.text is not None else _best_span(answerer, gold.question, chunks_by_doc.get(gold.doc, []))
            record.update(isolated_prediction=best, isolated_em=exact_match(best, gold_answers),
                          isolated_f1=f1_score(best, gold_answers))
        record["error_stage"] = blame(record)
        records.append(record)
    return {"gold": str(gold_path), "mode": mode, "top_k": top_k, "summary": aggregate(records), "questions": records}


def _best_span(answerer, question: str, chunks: list) -> str | None:
    candidates = answerer.reader.read(question, [c.text for c in chunks],
                                      headers=[answerer.reading_header(c.doc_id) for c in chunks], n_best=1)
    return candidates[0].text if candidates else None


def write_plots(report: dict, out: Path) -> list[str]:
    """F1 by question kind and the latency distribution, as PNG files in ``out``."""
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
    return ["f1_by_kind.png", "latency.png"]


def summary_table(summary: dict) -> str:
    """The aggregate figures as an aligned text table."""
    keys = ["questions", "EM", "F1", "HasAns_EM", "HasAns_F1", "NoAns_accuracy", "answered_rate_on_answerable",
            "retrieval_recall@1", "retrieval_recall@5", "retrieval_mrr", "citation_accuracy",
            "citation_accuracy_over_answerable", "isolated_reader_EM", "isolated_reader_F1",
            "latency_ms_p50", "latency_ms_p95"]
    lines = [f"{key:<36}{summary[key]}" for key in keys]
    lines.append(f"{'errors_by_stage':<36}{summary['errors_by_stage']}")
    lines.append("F1 by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in summary["F1_by_kind"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", default="eval/gold.jsonl")
    parser.add_argument("--out", default="eval/report")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    parser.add_argument("--index", default=None)
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--reader", default=None, help="an exported reader folder (default: models/reader)")
    args = parser.parse_args(argv)
    import qa

    try:
        report = run(Path(args.gold), top_k=args.top_k, mode=args.mode, index_dir=args.index, corpus_dir=args.corpus,
                     reader_dir=args.reader)
    except (GoldFormatError, FileNotFoundError, *qa.USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = write_plots(report, out)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(summary_table(report["summary"]))
    print(f"\nreport: {out / 'report.json'}; plots: {', '.join(str(out / p) for p in report['plots'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
