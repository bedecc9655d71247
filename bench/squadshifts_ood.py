"""Out-of-domain check through ``qa.answer``: SQuADShifts reddit (held out of every reader's training and
calibration) as a corpus, answered end to end by one or more systems in one run.

The reddit paragraphs, less a seeded share (``--left-out``, 20%), are written one file each ("Reddit post
N" as the title) and indexed. A seeded sample of questions is drawn: ``--answerable`` (500) on indexed
paragraphs, scored against their SQuADShifts answers, and ``--unanswerable`` (250) on left-out paragraphs,
whose right reply is "not found" (their paragraph is not in the corpus). Each system answers every question
through the full pipeline (retrieval, reading, abstention) with ``eval.run.run``; the summary per system is
written to ``--out`` and printed. Reads ../shared (benchmarks may; tests and the app don't).

Systems: ``current`` (the shipped ``models/reader`` with ``models/rereader``) and any number of
``NAME=READER[,REREADER]`` folders, e.g. ``--system v5=models/reader,checkpoints/v5-export``.

Run: ``python bench/squadshifts_ood.py [--system NAME=READER[,REREADER] ...] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.run import run

SUMMARY_KEYS = (
    "F1",
    "EM",
    "HasAns_F1",
    "answered_rate_on_answerable",
    "NoAns_accuracy",
    "isolated_reader_F1",
    "retrieval_recall@5",
    "reply_confidence_auroc",
    "latency_ms_p50",
    "latency_ms_p95",
)


def write_corpus_and_gold(
    data_path: Path, folder: Path, *, left_out: float, answerable: int, unanswerable: int, seed: int
) -> Path:
    """Write the indexed paragraphs to ``folder/corpus`` and the sampled questions to ``folder/gold.jsonl``
    (``eval/gold.jsonl``'s schema); returns the gold file."""
    data = json.loads(data_path.read_text(encoding="utf-8"))["data"]
    paragraphs = [p for article in data for p in article["paragraphs"]]
    rng = random.Random(seed)
    order = list(range(len(paragraphs)))
    rng.shuffle(order)
    held = set(order[: round(left_out * len(paragraphs))])
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    indexed_questions, left_out_questions = [], []
    for number, paragraph in enumerate(paragraphs):
        doc = f"reddit_{number:05d}.txt"
        if number not in held:
            (corpus / doc).write_text(f"Reddit post {number}\n\n{paragraph['context']}\n", encoding="utf-8")
        for qa in paragraph["qas"]:
            answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
            if number in held:
                left_out_questions.append({"id": qa["id"], "question": qa["question"], "answers": []})
            elif answers:
                indexed_questions.append({"id": qa["id"], "question": qa["question"], "answers": answers, "doc": doc})
    sample = rng.sample(indexed_questions, answerable) + rng.sample(left_out_questions, unanswerable)
    gold = folder / "gold.jsonl"
    gold.write_text("".join(json.dumps(q) + "\n" for q in sample), encoding="utf-8")
    return gold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/squadshifts/reddit_v1.0.json")
    parser.add_argument("--left-out", type=float, default=0.2, help="share of paragraphs not indexed")
    parser.add_argument("--answerable", type=int, default=500)
    parser.add_argument("--unanswerable", type=int, default=250)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--system",
        action="append",
        default=[],
        help="NAME=READER[,REREADER]: another system to answer with, beside the shipped one ('current')",
    )
    parser.add_argument("--no-current", action="store_true", help="leave the shipped system out")
    parser.add_argument("--out", default="bench/results/squadshifts_reddit.json", help="where the summary goes")
    args = parser.parse_args()
    systems: dict[str, tuple[str | None, str | None]] = {} if args.no_current else {"current": (None, None)}
    for spec in args.system:
        name, _, folders = spec.partition("=")
        reader, _, rereader = folders.partition(",")
        if not name or not reader:
            parser.error(f"--system {spec!r}: give NAME=READER[,REREADER]")
        systems[name] = (reader, rereader or None)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gold = write_corpus_and_gold(
            Path(args.data),
            folder,
            left_out=args.left_out,
            answerable=args.answerable,
            unanswerable=args.unanswerable,
            seed=args.seed,
        )
        index = folder / "index"
        subprocess.run(
            [sys.executable, "-m", "cli", "index", "--corpus", str(folder / "corpus"), "--index", str(index)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for name, (reader, rereader) in systems.items():
            started = time.monotonic()
            report = run(
                gold,
                top_k=5,
                mode="hybrid",
                index_dir=index,
                corpus_dir=folder / "corpus",
                reader_dir=reader,
                rereader_dir=rereader,
            )
            summary = report["summary"]
            results[name] = {
                "reader": reader or "models/reader",
                "rereader": rereader if reader else "models/rereader",
                **{k: summary.get(k) for k in SUMMARY_KEYS},
                "minutes": round((time.monotonic() - started) / 60, 1),
            }
            print(name, json.dumps(results[name]))
    output = {
        "what": f"SQuADShifts reddit through qa.answer: {args.answerable} questions on indexed paragraphs, "
        f"{args.unanswerable} on the {args.left_out:.0%} left out (right reply: not found); seed {args.seed}",
        "command": " ".join(
            ["python bench/squadshifts_ood.py", *(f"--system {s}" for s in args.system), "--out", args.out]
        ),
        "date": time.strftime("%Y-%m-%d"),
        "systems": results,
    }
    Path(args.out).write_text(json.dumps(output, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
