"""Fit the deciding reader's no-answer threshold and confidence on the project's development question sets,
through the real pipeline.

A reader's export fits its threshold on held-out SQuAD *train* questions with synthetic unanswerable
copies. Questions as people ask them (in their own words, about news) give right answers lower margins
than SQuAD's, so that threshold abstains too often on them. This fit uses the development sets instead:
questions written from the articles alone, never a gold file (``eval/dev_hard.jsonl`` over ``corpus/``,
``eval/dev_news/questions.jsonl`` over ``eval/dev_news/corpus``). Every question is answered by
``QuestionAnswerer`` as shipped (retrieval, windows, the first reader's early stop, the rereader), keeping
the candidate groups and which reader decided; each threshold of a sweep is then applied by
``qa.grouping.choose_answers`` exactly as the pipeline applies it. The threshold kept maximises F1 with the
answerable and unanswerable questions weighted equally (``--objective balanced``, ``choose_threshold``'s
rule) or at the sets' own mix (``--objective f1``), and the confidence
sigmoid is refitted on the same questions (right = F1 >= 0.5 for the top answer). Only the deciding reader
(the rereader when there is one) is changed: the first reader's answers stand only past its stop margin.
With ``--first-reader-weights``, the rereader's ``first_reader_weight`` (``qa.reading.blend_margins``) is
chosen with the threshold: each weight is swept in turn (readings are remembered, so each window is read
once), and the best weight and threshold by the objective win (the smaller weight on a tie). With
``--overlap-weights``, the fitted reader's ``overlap_weight`` (``qa.grouping.answer_groups``) is swept
the same way, every pair of the two weights in turn. With ``--first-stop-margins`` (a rereader only), the
first reader's stop margin, past which its own answer stands and the rereader never reads, is swept too: a
larger one hands more questions to the better rereader, at the cost of time (``bench/latency.py``); the
report gives the share the first reader decides for each (``--write`` leaves the first reader's margin as it
is).

The report's ``cross_check`` makes the same choice on each set alone and scores it on the other: how the
fit does on questions it was not chosen on (the chosen fit itself is scored in sample).

Far misses guard the fit: each set's answerable questions asked over the *other* set's corpus (Somali
politics over the US-Iraq articles, and back), which the bot must decline. A threshold and weights that
answer more than ``--max-far-answered`` of them (default 0.5%: one in 200) are never chosen, however well they score on
the sets themselves, whose unanswerable questions are all near misses. Held-out SQuAD train questions guard
it from the other side (``--squad-guard``, 400 by default): SQuAD's questions reuse their paragraph's words,
so an overlap weight that declines near misses can decline them too; a fit that loses more than
``--max-squad-loss`` F1 points there (default 2) to abstaining is never chosen either.

Run: ``python -m training.calibrate_dev --reader models/reader --rereader DIR [--write]``; the sweep goes to
``bench/results/dev_threshold_<folder>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import SentenceTransformerEncoder, build_index
from qa.defaults import DEFAULT_TOP_K
from qa.grouping import AnswerGroup, answer_groups, choose_answers
from qa.metrics import f1_score
from qa.pipeline import QuestionAnswerer
from qa.questions import clean_question, question_overlap, reading_question
from qa.reader import Reader, ReaderCalibration, ReaderModel, _read_calibration
from qa.span_decoding import SpanCandidate
from training.export_reader import fit_logistic
from training.squad_data import load_articles

ROOT = Path(__file__).resolve().parent.parent
DEV_SETS = (
    (ROOT / "eval" / "dev_hard.jsonl", ROOT / "corpus"),
    (ROOT / "eval" / "dev_news" / "questions.jsonl", ROOT / "eval" / "dev_news" / "corpus"),
)
THRESHOLDS = [round(0.25 * i, 2) for i in range(-160, 161)]  # -40.0 .. 40.0 (a reader with an answerability head)


@dataclass(frozen=True)
class DevRecord:
    """One development question as the pipeline read it: its gold answers (none: unanswerable), the
    candidate groups in the pipeline's order, and whether the reader being fitted decided it."""

    answers: tuple[str, ...]
    groups: tuple[AnswerGroup, ...]
    fitted_reader_decides: bool


def collect(
    answerer: QuestionAnswerer, questions: list[dict], fitted: object, *, top_k: int | None = None
) -> list[DevRecord]:
    """Answer every question through ``answerer`` (retrieval and reading as ``answer()`` does them), reading
    ``top_k`` retrieved passages (default: the pipeline's)."""
    index, retriever = answerer._ensure_loaded()
    records = []
    for row in questions:
        question = clean_question(row["question"])
        retrieved = answerer._retrieve(retriever, question, top_k=top_k, mode=None)
        candidates, reader = answerer._read(question, retrieved, index, with_previous=True)
        answers = tuple(row.get("answers") or ()) if row.get("answerable", True) else ()
        records.append(DevRecord(answers, tuple(answer_groups(candidates, reader.calibration)), reader is fitted))
    return records


def reply(record: DevRecord, threshold: float) -> AnswerGroup | None:
    chosen = choose_answers(record.groups, threshold=threshold)
    return chosen[0] if chosen else None


def score(records: list[DevRecord], threshold: float, fixed_threshold: float) -> dict:
    """F1, HasAns F1, answered rate and NoAns accuracy when the fitted reader uses ``threshold`` (the other
    reader keeps ``fixed_threshold``), and their equally weighted mean ``balanced``."""
    has_f1, answered, no_ans = [], [], []
    for record in records:
        group = reply(record, threshold if record.fitted_reader_decides else fixed_threshold)
        if record.answers:
            has_f1.append(f1_score(group.best.candidate.text, list(record.answers)) if group else 0.0)
            answered.append(group is not None)
        else:
            no_ans.append(group is None)
    has, noans = float(np.mean(has_f1)), float(np.mean(no_ans))
    return {
        "threshold": threshold,
        "F1": round((sum(has_f1) + sum(no_ans)) / len(records), 4),
        "HasAns_F1": round(has, 4),
        "answered": round(float(np.mean(answered)), 4),
        "NoAns": round(noans, 4),
        "balanced": round((has + noans) / 2, 4),
    }


def far_questions(questions: list[dict]) -> list[dict]:
    """The answerable ``questions`` as unanswerable ones: for asking over a corpus that never mentions them."""
    return [{"question": q["question"], "answers": [], "answerable": False} for q in questions if q.get("answers")]


def answered_share(records: list[DevRecord], threshold: float, fixed_threshold: float) -> float:
    """The share of ``records`` given an answer when the fitted reader uses ``threshold``."""
    given = [reply(r, threshold if r.fitted_reader_decides else fixed_threshold) is not None for r in records]
    return float(np.mean(given)) if given else 0.0


def fit_confidence(records: list[DevRecord]) -> tuple[float, float]:
    """(slope, intercept) of sigmoid(slope * margin + intercept) = P(top answer right), over the questions
    the fitted reader decides; an unanswerable question's top answer is never right."""
    margins, right = [], []
    for record in records:
        if record.fitted_reader_decides and record.groups:
            best = record.groups[0].best.candidate
            margins.append(best.margin)
            right.append(float(bool(record.answers) and f1_score(best.text, list(record.answers)) >= 0.5))
    return fit_logistic(np.array(margins), np.array(right))


def cross_check(
    by_set: dict[tuple, tuple[list[list[DevRecord]], list[list[DevRecord]]]],
    names: list[str],
    fixed_threshold: float,
    args: argparse.Namespace,
    guard: SquadGuard | None = None,
) -> dict[str, dict]:
    """The sweep's choice made on one development set alone (weights and threshold, under that set's own far
    misses and the SQuAD ``guard``) and scored on the other: how the fit does on questions it was not chosen
    on. Empty without two sets."""
    if len(names) != 2:
        return {}
    objective = "balanced" if args.objective == "balanced" else "F1"
    report = {}
    for fit, test in ((0, 1), (1, 0)):
        best = None
        for pair, (per_set, far_per_set) in by_set.items():
            for threshold in THRESHOLDS:
                if answered_share(far_per_set[fit], threshold, fixed_threshold) > args.max_far_answered:
                    continue
                if guard is not None and guard.loss(threshold, pair[1]) > args.max_squad_loss:
                    continue
                value = score(per_set[fit], threshold, fixed_threshold)[objective]
                if best is None or value > best[0]:
                    best = (value, pair, threshold)
        if best is None:
            continue
        value, (weight, overlap, gate), threshold = best
        per_set, far_per_set = by_set[weight, overlap, gate]
        report[f"chosen on {names[fit]}, scored on {names[test]}"] = {
            "fit_" + objective: value,
            "first_reader_weight": weight,
            "overlap_weight": overlap,
            "first_stop_margin": gate,
            **score(per_set[test], threshold, fixed_threshold),
            "far_answered": round(answered_share(far_per_set[test], threshold, fixed_threshold), 4),
        }
    return report


@dataclass(frozen=True)
class SquadGuard:
    """Held-out SQuAD train questions read over their own paragraph by the fitted reader: the best span's
    margin, its F1 and the question's overlap with the paragraph (``qa.questions.question_overlap``)."""

    margins: np.ndarray
    f1s: np.ndarray
    overlaps: np.ndarray

    def loss(self, threshold: float, overlap_weight: float) -> float:
        """SQuAD F1 points lost to abstaining (the answer given only when the margin moved by the overlap
        weight passes ``threshold``, as ``qa.grouping.answer_groups`` decides) against answering all."""
        answered = self.margins + overlap_weight * self.overlaps > threshold
        return float(100 * (self.f1s.mean() - np.where(answered, self.f1s, 0.0).mean()))


def squad_guard(reader: Reader, reader_dir: Path, train: Path, limit: int, seed: int = 5) -> SquadGuard:
    """``limit`` answerable questions of the held-out SQuAD *train* articles named in ``reader_dir``'s
    ``training_log.json``, each read over its own paragraph under its title line, the question as the
    pipeline reads it (``reading_question``), as ``bench/reader_squad.py`` reads SQuAD dev."""
    titles = set(json.loads((reader_dir / "training_log.json").read_text(encoding="utf-8"))["heldout_titles"])
    rows = [
        (article["title"].replace("_", " "), paragraph["context"], qa["question"], [a["text"] for a in qa["answers"]])
        for article in load_articles(train)
        if article["title"] in titles
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    rows = random.Random(seed).sample(rows, min(limit, len(rows)))
    margins, f1s, overlaps = [], [], []
    for title, context, question, answers in rows:
        asked = reading_question(question)
        candidates = reader.read(asked, [context], headers=[title], n_best=1)
        margins.append(candidates[0].margin if candidates else -1e3)
        f1s.append(f1_score(candidates[0].text, answers) if candidates else 0.0)
        overlaps.append(question_overlap(asked, f"{title}\n{context}"))
    return SquadGuard(np.array(margins), np.array(f1s), np.array(overlaps))


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class MemoReader:
    """A reader whose readings are remembered (each weight of a sweep reads the same windows again) and
    whose calibration the sweep can change."""

    def __init__(self, reader: ReaderModel) -> None:
        self.reader = reader
        self.calibration: ReaderCalibration = reader.calibration
        self._memo: dict[tuple, list[SpanCandidate]] = {}

    def load(self) -> object:
        return self.reader.load()

    def read(
        self,
        question: str,
        passages: Sequence[str],
        *,
        headers: Sequence[str] | None = None,
        n_best: int | None = None,
    ) -> list[SpanCandidate]:
        key = (question, tuple(passages), tuple(headers) if headers is not None else None, n_best)
        if key not in self._memo:
            self._memo[key] = self.reader.read(question, passages, headers=headers, n_best=n_best)
        return self._memo[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=str(ROOT / "models" / "reader"))
    parser.add_argument("--rereader", default=None, help="the rereader to fit (default: fit --reader itself)")
    parser.add_argument(
        "--first-reader-weights",
        type=float,
        nargs="+",
        default=[0.0],
        help="with --rereader, the first_reader_weight values to try (qa.reading.blend_margins; default 0)",
    )
    parser.add_argument(
        "--overlap-weights",
        type=float,
        nargs="+",
        default=None,
        help="the fitted reader's overlap_weight values to try (qa.questions.question_overlap; default: its own)",
    )
    parser.add_argument(
        "--first-stop-margins",
        type=float,
        nargs="+",
        default=None,
        help="with --rereader, the first reader's stop_margin values to try (default: its own); reported, never "
        "written (it belongs to the first reader's calibration.json)",
    )
    parser.add_argument(
        "--top-k", type=int, default=None, help="passages retrieved and read per question (default: the pipeline's)"
    )
    parser.add_argument("--report", default=None, help="default bench/results/dev_threshold_<folder>.json")
    parser.add_argument("--objective", choices=("balanced", "f1"), default="balanced")
    parser.add_argument(
        "--max-far-answered",
        type=float,
        default=0.005,
        help="the largest share of far misses (questions of the other set's corpus) a chosen fit may answer",
    )
    parser.add_argument(
        "--squad-guard",
        type=int,
        default=400,
        help="held-out SQuAD train questions (of the fitted reader's training_log.json) that guard the fit; 0: none",
    )
    parser.add_argument(
        "--max-squad-loss",
        type=float,
        default=2.0,
        help="the most SQuAD F1 points a chosen fit may lose to abstaining on the guard's questions (default 2)",
    )
    parser.add_argument("--train", default=str(ROOT.parent / "shared" / "data" / "squad" / "train-v1.1.json"))
    parser.add_argument("--write", action="store_true", help="write the fit into calibration.json")
    args = parser.parse_args(argv)
    reader = MemoReader(ReaderModel(Path(args.reader)))
    rereader = MemoReader(ReaderModel(Path(args.rereader))) if args.rereader else None
    fitted = rereader if rereader is not None else reader
    fitted_dir = Path(args.rereader or args.reader)
    weights = args.first_reader_weights if rereader is not None else [0.0]
    encoder = SentenceTransformerEncoder()
    objective = "balanced" if args.objective == "balanced" else "F1"
    fixed, base = reader.calibration.threshold, fitted.calibration
    overlap_weights = args.overlap_weights if args.overlap_weights is not None else [base.overlap_weight]
    first_base = reader.calibration
    gates = args.first_stop_margins if rereader is not None and args.first_stop_margins else [first_base.stop_margin]
    pairs = [(weight, overlap, gate) for weight in weights for overlap in overlap_weights for gate in gates]
    by_pair: dict[tuple[float, float, float | None], tuple[list[DevRecord], list[dict]]] = {}
    by_set: dict[tuple[float, float, float | None], tuple[list[list[DevRecord]], list[list[DevRecord]]]] = {}
    sizes = []
    guard = squad_guard(fitted, fitted_dir, Path(args.train), args.squad_guard) if args.squad_guard else None
    with tempfile.TemporaryDirectory() as tmp:
        sets = []
        for number, (questions_path, corpus) in enumerate(DEV_SETS):
            index_dir = Path(tmp) / f"index{number}"
            build_index(corpus, index_dir, encoder=encoder)
            answerer = QuestionAnswerer(
                index_dir=index_dir, corpus_dir=corpus, encoder=encoder, reader=reader, rereader=rereader
            )
            sets.append((answerer, load_questions(questions_path)))
            sizes.append(f"{questions_path.relative_to(ROOT)} ({len(sets[-1][1])})")
        # Each set's questions over the other set's corpus: far misses.
        far_sets = [(sets[i][0], far_questions(sets[1 - i][1])) for i in range(len(sets))] if len(sets) == 2 else []
        for weight, overlap, gate in pairs:
            fitted.calibration = dataclasses.replace(base, first_reader_weight=weight, overlap_weight=overlap)
            if rereader is not None:
                reader.calibration = dataclasses.replace(first_base, stop_margin=gate)
            per_set = [collect(answerer, questions, fitted, top_k=args.top_k) for answerer, questions in sets]
            far_per_set = [collect(answerer, questions, fitted, top_k=args.top_k) for answerer, questions in far_sets]
            records = [record for records in per_set for record in records]
            far = [record for records in far_per_set for record in records]
            first_decides = round(float(np.mean([not r.fitted_reader_decides for r in records])), 4)
            rows = [
                score(records, t, fixed)
                | {"far_answered": round(answered_share(far, t, fixed), 4), "first_reader_decides": first_decides}
                | ({"squad_loss": round(guard.loss(t, overlap), 2)} if guard is not None else {})
                for t in THRESHOLDS
            ]
            by_pair[weight, overlap, gate] = (records, rows)
            by_set[weight, overlap, gate] = (per_set, far_per_set)
    fitted.calibration, reader.calibration = base, first_base
    as_shipped = (base.first_reader_weight, base.overlap_weight, first_base.stop_margin)
    records, rows = by_pair.get(as_shipped, by_pair[pairs[0]])
    shipped = score(records, base.threshold, fixed)  # the threshold and weights it came with (or the first pair)
    allowed = {
        pair: [
            row
            for row in rows
            if row["far_answered"] <= args.max_far_answered and row.get("squad_loss", 0.0) <= args.max_squad_loss
        ]
        for pair, (_, rows) in by_pair.items()
    }
    allowed = {pair: rows for pair, rows in allowed.items() if rows}
    if not allowed:
        parser.error(
            f"every fit answers more than {args.max_far_answered:.1%} of the far misses or loses more than "
            f"{args.max_squad_loss} F1 on the held-out SQuAD questions"
        )
    (weight, overlap, gate), sweep = max(
        allowed.items(),
        key=lambda item: (max(row[objective] for row in item[1]), -abs(item[0][0]) - abs(item[0][1])),
    )
    records = by_pair[weight, overlap, gate][0]
    chosen = max(sweep, key=lambda row: (row[objective], -abs(row["threshold"] - shipped["threshold"])))
    slope, intercept = fit_confidence(records)
    report = {
        "fitted": str(fitted_dir),
        "questions": len(records),
        "top_k": args.top_k or DEFAULT_TOP_K,
        "decided_by_fitted_reader": sum(r.fitted_reader_decides for r in records),
        "sets": sizes,
        "shipped_threshold": shipped,
        "objective": args.objective,
        "best_by_weights": {
            f"first_reader_weight={w} overlap_weight={o} first_stop_margin={g}": max(
                rows, key=lambda row: row[objective]
            )
            for (w, o, g), rows in allowed.items()
        },
        "chosen": chosen | {"first_reader_weight": weight, "overlap_weight": overlap, "first_stop_margin": gate},
        "confidence": {"slope": round(slope, 4), "intercept": round(intercept, 4)},
        "far_misses": sum(len(questions) for _, questions in far_sets),
        "cross_check": cross_check(by_set, [size.split(" (")[0] for size in sizes], fixed, args, guard),
        "squad_guard": (
            {"questions": len(guard.f1s), "F1_answering_all": round(100 * float(guard.f1s.mean()), 2)}
            if guard is not None
            else None
        ),
        "sweep": sweep,
        "command": " ".join(["python -m training.calibrate_dev", *(sys.argv[1:] if argv is None else argv)]),
    }
    print(json.dumps({k: v for k, v in report.items() if k != "sweep"}, indent=1))
    default_report = ROOT / "bench" / "results" / f"dev_threshold_{fitted_dir.resolve().name}.json"
    report_path = Path(args.report) if args.report else default_report
    report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.write:
        path = fitted_dir / "calibration.json"
        calibration = json.loads(path.read_text(encoding="utf-8"))
        calibration.setdefault("squad_heldout_threshold", calibration["threshold"])
        calibration["threshold"] = chosen["threshold"]
        calibration["slope"], calibration["intercept"] = slope, intercept
        if rereader is not None:
            calibration["first_reader_weight"] = weight
        calibration["overlap_weight"] = overlap
        calibration["threshold_fitted_on"] = (
            f"{len(records)} development questions written from the articles ({', '.join(sizes)}), answered by "
            f"the pipeline (training/calibrate_dev.py), objective {args.objective}: F1 "
            f"{chosen['F1']}, HasAns F1 {chosen['HasAns_F1']}, NoAns {chosen['NoAns']}"
        )
        path.write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
        _read_calibration.cache_clear()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
