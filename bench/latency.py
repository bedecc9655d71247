"""Latency benchmark of ``qa.answer``: warm p50/p95 over a question set, the time of the bare model forward
passes those questions need, and the cold time of a ``qa ask`` command.

Warm (default): every question of ``eval/gold.jsonl`` (or of the ``--gold`` files) is answered once to warm
up and to record the exact inputs the pipeline gives each ONNX Runtime session (query encoder, reader); then
``--rounds`` timed passes.
The bare time of a question is those recorded inputs replayed straight into the sessions, timed the same
way in the same run; ``pipeline / bare`` is what everything around the model costs.

``--squad-open``: the same over every SQuAD 1.1 dev paragraph as a corpus (one file per paragraph, index
cached in ``bench/.cache``), with ``--questions`` seeded questions, scored EM/F1 against their answers.

``--compare-reader DIR``: the shipped pipeline (with ``models/rereader`` when that holds a reader) against
one with reader DIR alone, interleaved question by question in one process (the rule for shipping a new
reader: it may not raise the warm p50). With ``--compare-rereader DIR`` the candidate pipeline is ``--compare-reader``
(default: the shipped reader) with reader DIR re-reading the questions it is unsure of.

``--cold``: ``qa ask QUESTION`` in a new process, ``--cold-runs`` times, without and then with a running
``qa serve`` (which ``qa ask`` answers through when it is up).

Run: ``python bench/latency.py [--squad-open] [--cold]``; results go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.scoring import percentile  # noqa: E402

COLD_QUESTION = "Who is the Turkish foreign minister?"
SQUAD_DEV = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
CACHE = ROOT / "bench" / ".cache"


def summary(seconds: list[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds."""
    ms = sorted(1000 * s for s in seconds)
    return {
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def reader_sessions(answerer: Any) -> list[Any]:
    """The ONNX Runtime sessions of the pipeline's reader and rereader (those on ONNX)."""
    sessions = []
    for reader in (answerer.reader, getattr(answerer, "rereader", None)):
        reader_model = reader.load()[1] if reader is not None else None
        session = getattr(reader_model, "session", None)
        if session is not None:
            sessions.append(session)
    return sessions


def onnx_sessions(answerer: Any) -> list[Any]:
    """The ONNX Runtime sessions the pipeline runs: the query encoder's and the readers' (when on ONNX)."""
    encoder_session = getattr(answerer.encoder, "session", None)
    return ([encoder_session] if encoder_session is not None else []) + reader_sessions(answerer)


class Recorder:
    """Records every ``run`` call on the given sessions (output names and feeds), per question."""

    def __init__(self, sessions: list[Any]) -> None:
        self.sessions = sessions
        self.calls: list[tuple[Any, Any, dict]] = []

    def __enter__(self) -> Recorder:
        for session in self.sessions:
            original = session.run

            def run(names, feeds, *rest, _session=session, _original=original):
                self.calls.append((_session, names, {k: v.copy() for k, v in feeds.items()}))
                return _original(names, feeds, *rest)

            session.run = run
        return self

    def __exit__(self, *exc: object) -> None:
        for session in self.sessions:
            del session.run  # back to the class's method


def replay(calls: list[tuple[Any, Any, dict]]) -> float:
    """Seconds to run the recorded forward passes straight into their sessions."""
    began = time.perf_counter()
    for session, names, feeds in calls:
        session.run(names, feeds)
    return time.perf_counter() - began


def warm_run(answerer: Any, questions: list[str], rounds: int, score: Callable[[int, Any], None] | None = None) -> dict:
    """Warm-up pass (recording forwards, scoring answers), then ``rounds`` timed passes of pipeline and bare."""
    answerer.load()
    answerer.answer("What is this corpus about?")
    sessions = onnx_sessions(answerer)
    recorded: list[list] = []
    for i, question in enumerate(questions):
        with Recorder(sessions) as recorder:
            answer = answerer.answer(question)
        recorded.append(recorder.calls)
        if score is not None:
            score(i, answer)
    pipeline, bare = [], []
    for _ in range(rounds):
        for i, question in enumerate(questions):
            began = time.perf_counter()
            answerer.answer(question)
            pipeline.append(time.perf_counter() - began)
            if sessions:
                bare.append(replay(recorded[i]))
    readers = reader_sessions(answerer)  # both readers' forwards count (the rereader's too)
    reader_calls = [sum(1 for s, _, _ in calls if any(s is r for r in readers)) for calls in recorded]
    result: dict[str, Any] = {"questions": len(questions), "rounds": rounds, "pipeline": summary(pipeline)}
    if bare:
        result["bare_forwards"] = summary(bare)
        result["pipeline_over_bare"] = {
            "total": round(sum(pipeline) / sum(bare), 3),
            "p50": round(percentile(sorted(pipeline), 50) / percentile(sorted(bare), 50), 3),
        }
        result["reader_forwards_per_question"] = {
            "mean": round(statistics.fmean(reader_calls), 2),
            "p50": percentile(sorted(reader_calls), 50),
            "max": max(reader_calls),
        }
    return result


def gold_questions(files: list[str]) -> list[str]:
    """The questions of the gold ``files`` (paths from the project folder), file by file, in order."""
    lines = [line for name in files for line in (ROOT / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)["question"] for line in lines]


def gold_bench(args: argparse.Namespace) -> dict:
    import qa

    answerer = qa.get_answerer()
    return {"corpus": "corpus/ (the five articles)", "questions_file": " + ".join(args.gold)} | warm_run(
        answerer, gold_questions(args.gold), args.rounds
    )


def compare_bench(args: argparse.Namespace) -> dict:
    """Warm ``qa.answer`` over the gold questions with the shipped reader and with ``--compare-reader``, in one
    process and interleaved question by question (shipped, then candidate), so both see the same machine."""
    import qa
    from qa.pipeline import QuestionAnswerer
    from qa.reader import ReaderModel

    questions = gold_questions(args.gold)
    shipped = qa.get_answerer().load()
    candidate = QuestionAnswerer(
        reader=ReaderModel(args.compare_reader) if args.compare_reader else ReaderModel(),
        rereader=ReaderModel(args.compare_rereader) if args.compare_rereader else None,
    ).load()
    times: dict[str, list[float]] = {"shipped": [], "candidate": []}
    windows: dict[str, list[int]] = {"shipped": [], "candidate": []}
    for answerer in (shipped, candidate):  # warm-up
        for question in questions:
            answerer.answer(question)
    for _ in range(args.rounds):
        for question in questions:
            for name, answerer in (("shipped", shipped), ("candidate", candidate)):
                began = time.perf_counter()
                answerer.answer(question)
                times[name].append(time.perf_counter() - began)
    for name, answerer in (("shipped", shipped), ("candidate", candidate)):
        sessions = reader_sessions(answerer)
        for question in questions:
            with Recorder(sessions) as recorder:
                answerer.answer(question)
            windows[name].append(len(recorder.calls))
    return {
        "questions_file": " + ".join(args.gold),
        "questions": len(questions),
        "rounds": args.rounds,
        "candidate_reader": str(args.compare_reader or "models/reader"),
        "candidate_rereader": str(args.compare_rereader) if args.compare_rereader else None,
        **{
            name: summary(times[name]) | {"reader_forwards_mean": round(statistics.fmean(windows[name]), 2)}
            for name in times
        },
    }


def squad_open_bench(args: argparse.Namespace) -> dict:
    from bench.retrieval_squad import write_corpus
    from embeddings import SentenceTransformerEncoder, build_index
    from qa.metrics import exact_match, f1_score
    from qa.pipeline import QuestionAnswerer

    squad_dev = Path(args.squad_dev)
    corpus, index_dir = CACHE / "squad_dev_corpus", CACHE / "squad_dev_index"
    if not (corpus / ".done").exists():
        corpus.mkdir(parents=True, exist_ok=True)
        write_corpus(squad_dev, corpus)
        (corpus / ".done").touch()
    encoder = SentenceTransformerEncoder()
    if not (index_dir / "manifest.json").exists():
        build_index(corpus, index_dir, encoder=encoder)
    rows: list[tuple[str, list[str]]] = []
    for article in json.loads(squad_dev.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            rows.extend((q["question"], [a["text"] for a in q["answers"]]) for q in paragraph["qas"])
    sample = random.Random(args.seed).sample(rows, args.questions)
    em, f1 = [0.0] * len(sample), [0.0] * len(sample)

    def score(i: int, result: Any) -> None:
        em[i] = exact_match(result.text, sample[i][1])
        f1[i] = f1_score(result.text, sample[i][1])

    answerer = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus)
    result = warm_run(answerer, [q for q, _ in sample], 1, score)
    return {
        "corpus": f"SQuAD 1.1 dev, one document per paragraph ({sum(1 for _ in corpus.glob('*.txt'))} files)",
        "seed": args.seed,
        "EM": round(100 * statistics.fmean(em), 2),
        "F1": round(100 * statistics.fmean(f1), 2),
    } | result


def cold_runs(args: argparse.Namespace, extra_env: dict[str, str]) -> dict:
    times, outputs = [], []
    for _ in range(args.cold_runs):
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cli", "ask", COLD_QUESTION],
            cwd=ROOT,
            env=dict(os.environ, **extra_env),
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - began)
        outputs.append(done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr[-300:])
    return {
        "median_s": round(statistics.median(times), 2),
        "runs_s": [round(t, 2) for t in times],
        "first_line": outputs[0],
    }


def cold_bench(args: argparse.Namespace) -> dict:
    from tests.real_system import running_server

    result = {"question": COLD_QUESTION, "without_server": cold_runs(args, {"QA_SERVER_URL": "none"})}
    with running_server(ROOT / "index") as url:
        result["with_server"] = cold_runs(args, {"QA_SERVER_URL": url})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the gold questions (default 3)")
    parser.add_argument("--squad-open", action="store_true", help="bench over the SQuAD 1.1 dev articles instead")
    parser.add_argument("--questions", type=int, default=1000, help="seeded SQuAD dev questions (default 1000)")
    parser.add_argument("--squad-dev", default=str(SQUAD_DEV), help="SQuAD 1.1 dev file (default ../shared)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the SQuAD question sample (default 13)")
    parser.add_argument("--cold", action="store_true", help="time `qa ask` in new processes instead")
    parser.add_argument("--cold-runs", type=int, default=5, help="new processes per cold setting (default 5)")
    parser.add_argument("--label", default="", help="suffix of the result file name (e.g. 'before')")
    parser.add_argument(
        "--gold",
        nargs="+",
        default=["eval/gold.jsonl"],
        help="gold files whose questions the warm runs time (default eval/gold.jsonl)",
    )
    parser.add_argument(
        "--compare-reader", default=None, help="an exported reader folder: time it against the shipped one"
    )
    parser.add_argument(
        "--compare-rereader",
        default=None,
        help="an exported reader folder: time the pipeline in which it re-reads what the first reader is unsure of",
    )
    args = parser.parse_args()
    if args.compare_reader or args.compare_rereader:
        name, result = "latency_compare_reader", compare_bench(args)
    elif args.cold:
        name, result = "latency_cold", cold_bench(args)
    elif args.squad_open:
        name, result = "latency_squad_open", squad_open_bench(args)
    else:
        name, result = "latency", gold_bench(args)
    result |= {"command": "python " + " ".join(["bench/latency.py", *sys.argv[1:]]), "cpus": os.cpu_count()}
    out = ROOT / "bench" / "results" / f"{name}{'_' + args.label if args.label else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
