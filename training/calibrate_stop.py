"""Calibrate the reader's ``stop_margin``: how far ahead of "no answer" a candidate must be for the pipeline
to stop reading the other retrieved windows.

An open-corpus run on data the reader never trained on and we never evaluate on: every paragraph of the
held-out SQuAD 1.1 *train* articles (``training_log.json`` names them) and of SQuADShifts new_wiki, one file
a paragraph, indexed as ``qa index`` does; a seeded sample of their questions is answered by the real
pipeline with every window read, keeping each window's candidates. For each candidate stop margin, the
same questions are answered again from the windows the stopping rule would have read
(``qa.reading.clearly_ahead``, best retrieved first). The margin kept is the smallest for which the
answers differ from reading everything on at most ``--max-changed`` of the questions, are worse (lower F1)
on at most ``--max-worse`` of them, and F1 drops by at most ``--max-f1-drop`` points. Written into
``calibration.json`` with what was measured.

A first reader's margin is also the gate past which its answer stands without a second reading (``qa.pipeline``
with a rereader), so it keeps the strict rule on changed answers (the default). A rereader's margin only
decides whether it reads on, so for it a changed answer that is no worse costs nothing:
``--max-changed 1 --max-worse 0.01``.
Run: ``python -m training.calibrate_stop [--questions 800] [--write]``; reads ../shared.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

from embeddings import SentenceTransformerEncoder, build_index
from qa.defaults import DEFAULT_READER_DIR, DEFAULT_TOP_K
from qa.grouping import answer_groups, choose_answers
from qa.metrics import f1_score
from qa.pipeline import QuestionAnswerer
from qa.questions import clean_question
from qa.reader import ReaderCalibration, ReaderModel
from qa.reading import PlacedCandidate, clearly_ahead, read_windows
from qa.windows import reading_windows

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CANDIDATE_MARGINS = [round(0.5 * i, 1) for i in range(4, 41)]  # 2.0 .. 20.0


def write_open_corpus(folder: Path, heldout_titles: set[str]) -> list[tuple[str, list[str]]]:
    """One file per paragraph of the held-out train articles and of new_wiki; returns their questions."""
    sources = [
        (SHARED / "squad" / "train-v1.1.json", lambda article: article["title"] in heldout_titles),
        (SHARED / "squadshifts" / "new_wiki_v1.0.json", lambda article: True),
    ]
    questions: list[tuple[str, list[str]]] = []
    count = 0
    for path, keep in sources:
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            if not keep(article):
                continue
            title = str(article.get("title", "")).replace("_", " ") or f"Article {count}"
            for paragraph in article["paragraphs"]:
                (folder / f"{count:05d}.txt").write_text(f"{title}\n\n{paragraph['context']}\n", encoding="utf-8")
                questions.extend((q["question"], [a["text"] for a in q["answers"]]) for q in paragraph["qas"])
                count += 1
    return questions


def answer_text(candidates: list[PlacedCandidate], calibration: ReaderCalibration) -> str | None:
    """The answer the pipeline gives from ``candidates`` under the reader's ``calibration`` (None: it abstains)."""
    chosen = choose_answers(answer_groups(candidates, calibration), threshold=calibration.threshold)
    return chosen[0].best.candidate.text.strip() if chosen else None


def choose_stop_margin(sweep: list[dict], *, max_changed: float, max_worse: float, max_f1_drop: float) -> dict | None:
    """The first row of the sweep (smallest margin) within every bound, or None when none is."""
    return next(
        (
            row
            for row in sweep
            if row["changed"] <= max_changed and row["worse"] <= max_worse and row["f1_drop"] <= max_f1_drop
        ),
        None,
    )


def default_report(reader_dir: Path) -> Path:
    """Where a reader's sweep goes unless ``--report`` says: one file per reader folder, so calibrating the
    rereader never overwrites the shipped reader's report."""
    if reader_dir.resolve() == DEFAULT_READER_DIR.resolve():
        return Path("bench/results/stop_margin.json")
    return Path(f"bench/results/stop_margin_{reader_dir.resolve().name}.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=str(DEFAULT_READER_DIR))
    parser.add_argument("--questions", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-changed", type=float, default=0.01, help="share of answers allowed to change")
    parser.add_argument("--max-worse", type=float, default=1.0, help="share of answers allowed to get worse (lower F1)")
    parser.add_argument("--max-f1-drop", type=float, default=0.25, help="F1 points allowed to be lost")
    parser.add_argument("--work", default=None, help="folder for the corpus and index (default: a temporary one)")
    parser.add_argument(
        "--report",
        default=None,
        help="where the sweep is written (default bench/results/stop_margin.json for models/reader, "
        "bench/results/stop_margin_<folder>.json for another reader)",
    )
    parser.add_argument("--write", action="store_true", help="write stop_margin into the reader's calibration.json")
    args = parser.parse_args(argv)
    reader_dir = Path(args.reader)
    heldout = set(json.loads((reader_dir / "training_log.json").read_text(encoding="utf-8"))["heldout_titles"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        corpus, index_dir = work / "corpus", work / "index"
        corpus.mkdir(parents=True, exist_ok=True)
        questions = write_open_corpus(corpus, heldout)
        if not (index_dir / "manifest.json").exists():
            build_index(corpus, index_dir, encoder=SentenceTransformerEncoder())
        # The reader being calibrated, not the shipped one (a new reader's margins set its own stop margin).
        answerer = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus, reader=ReaderModel(reader_dir)).load()
        calibration = answerer.reader.calibration
        sample = random.Random(args.seed).sample(questions, min(args.questions, len(questions)))
        per_question = []  # (gold answers, windows in reading order, candidates per window)
        for question, gold_answers in sample:
            question = clean_question(question)
            retrieved = answerer.retrieve(question, top_k=DEFAULT_TOP_K)
            windows = reading_windows(retrieved, answerer.index, with_previous=True)
            order = sorted(range(len(windows)), key=lambda i: windows[i].retrieval.rank)
            read = [
                read_windows(
                    answerer.reader,
                    question,
                    [windows[i]],
                    answerer.index.documents,
                    [answerer.reading_header(windows[i].doc_id)],
                )
                for i in order
            ]
            per_question.append((gold_answers, read))
        full = [answer_text([c for window in read for c in window], calibration) for _, read in per_question]
        full_f1s = [f1_score(a, gold) for a, (gold, _) in zip(full, per_question, strict=True)]
        full_f1 = statistics.fmean(full_f1s)
        sweep = []
        for margin in CANDIDATE_MARGINS:
            answers: list[str | None] = []
            windows_read: list[int] = []
            for _, read in per_question:
                placed: list[PlacedCandidate] = []
                count = 0
                for window in read:
                    placed += window
                    count += 1
                    if clearly_ahead(placed, margin):
                        break
                answers.append(answer_text(placed, calibration))
                windows_read.append(count)
            f1s = [f1_score(a, gold) for a, (gold, _) in zip(answers, per_question, strict=True)]
            f1 = statistics.fmean(f1s)
            sweep.append(
                {
                    "stop_margin": margin,
                    "changed": round(sum(a != b for a, b in zip(answers, full, strict=True)) / len(full), 4),
                    "f1_drop": round(100 * (full_f1 - f1), 2),
                    "worse": round(sum(a < b for a, b in zip(f1s, full_f1s, strict=True)) / len(full), 4),
                    "windows_read_mean": round(statistics.fmean(windows_read), 2),
                }
            )
    full_windows = statistics.fmean(len(read) for _, read in per_question)
    chosen = choose_stop_margin(
        sweep, max_changed=args.max_changed, max_worse=args.max_worse, max_f1_drop=args.max_f1_drop
    )
    report = {
        "questions": len(per_question),
        "full_read": {"F1": round(100 * full_f1, 2), "windows_read_mean": round(full_windows, 2)},
        "chosen": chosen,
        "rule": f"smallest margin with changed <= {args.max_changed}, worse <= {args.max_worse} "
        f"and F1 drop <= {args.max_f1_drop}",
        "sweep": sweep,
    }
    print(json.dumps(report, indent=1))
    command = " ".join(["python -m training.calibrate_stop", *(sys.argv[1:] if argv is None else argv)])
    report_path = Path(args.report) if args.report else default_report(reader_dir)
    report_path.write_text(json.dumps(report | {"command": command}, indent=1) + "\n")
    if args.write and chosen is not None:
        path = reader_dir / "calibration.json"
        calibration = json.loads(path.read_text(encoding="utf-8"))
        calibration["stop_margin"] = chosen["stop_margin"]
        calibration["stop_margin_fitted_on"] = (
            f"{len(per_question)} questions of an open corpus of the held-out SQuAD 1.1 train articles and "
            f"SQuADShifts new_wiki (training/calibrate_stop.py): answers changed on {chosen['changed']:.1%} of "
            f"questions and got worse on {chosen['worse']:.1%}, F1 change {-chosen['f1_drop']:+.2f} points, "
            f"{chosen['windows_read_mean']} windows read "
            f"instead of {full_windows:.2f}"
        )
        path.write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
