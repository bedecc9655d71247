"""Retrieval benchmark: index every SQuAD 1.1 dev paragraph as a corpus document and check, for each
dev question, at which rank its own paragraph comes back (dense, BM25, hybrid).

Reports recall@1/5/20 and MRR (over the first 20), index build time, per-query latency p50/p95, and the
embedding throughput of the indexing pipeline (``build_index``, as ``qa index`` runs it) relative to
calling the encoder directly on the same texts. Reads ../shared (benchmarks may; tests and the app don't).

Hybrid is reported with both fusions: reciprocal rank (the default) and convex score fusion. Their
settings were chosen with ``--tune``: the same measurement on 2,059 paragraphs of SQuAD 1.1 *train* (a seeded
sample of articles) over a grid of fusion settings, so nothing is tuned on the dev set reported here.

Run: ``python bench/retrieval_squad.py [--limit N] [--out bench/results/retrieval_squad.json]``
     ``python bench/retrieval_squad.py --tune``  (writes bench/results/retrieval_tuning.json)
     ``python bench/retrieval_squad.py --latency-only``  (re-times the queries into the existing results)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.chunking import embedding_text
from embeddings.encoder import SentenceTransformerEncoder
from embeddings.index import build_index, load_index
from embeddings.retrieval import CorpusRetriever, HybridRetriever, Retriever, ScoredChunk
from eval.scoring import percentile

TUNING_GRID = [{"fusion": "rrf", "rrf_k": k} for k in (2, 5, 10, 20, 60)] + [
    {"fusion": "convex", "alpha": a} for a in (0.3, 0.4, 0.5, 0.6, 0.7)
]


def write_corpus(
    squad_path: Path, folder: Path, *, min_paragraphs: int | None = None, seed: int = 5
) -> tuple[list[tuple[str, str]], int]:
    """One file per paragraph; returns (question, gold doc id) pairs and the paragraph count.

    With ``min_paragraphs``, articles are shuffled (seeded) and whole articles are taken until at least
    that many paragraphs are written (the tuning collection); otherwise every paragraph is written.
    """
    data = json.loads(squad_path.read_text(encoding="utf-8"))["data"]
    if min_paragraphs:
        random.Random(seed).shuffle(data)
    questions: list[tuple[str, str]] = []
    count = 0
    for article in data:
        if min_paragraphs and count >= min_paragraphs:
            break
        for _p_index, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{count:05d}.txt"
            title = article["title"].replace("_", " ")
            (folder / doc_id).write_text(f"{title}\n\n{paragraph['context']}\n", encoding="utf-8")
            questions.extend((qa["question"], doc_id) for qa in paragraph["qas"])
            count += 1
    return questions, count


class PrecomputedQueries:
    """Wraps an encoder; ``encode_queries`` returns vectors embedded beforehand in one batch."""

    def __init__(self, encoder: SentenceTransformerEncoder, questions: list[str]) -> None:
        self.encoder_id, self.dimension = encoder.encoder_id, encoder.dimension
        self._vectors = dict(zip(questions, encoder.encode_documents(questions, show_progress=False), strict=True))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vectors[t] for t in texts])


class Cached:
    """A retriever that replays results computed once per question (so fusions can be compared cheaply)."""

    def __init__(self, results: dict[str, list[ScoredChunk]]) -> None:
        self._results = results

    def retrieve(self, question: str, k: int) -> list[ScoredChunk]:
        return self._results[question][:k]


def doc_ranks(retriever, questions: list[tuple[str, str]]) -> list[int | None]:
    """Rank (from 1, within the first 20 distinct documents) of each question's own paragraph, or None."""
    ranks = []
    for question, gold in questions:
        seen: list[str] = []
        for result in retriever.retrieve(question, 25):  # 25 chunks hold >= 20 paragraphs here
            if result.chunk.doc_id not in seen:
                seen.append(result.chunk.doc_id)
        ranks.append(seen.index(gold) + 1 if gold in seen[:20] else None)
    return ranks


def latency_scores(retriever, sample: list[tuple[str, str]]) -> dict:
    """p50/p95 of live ``retrieve(question, 5)`` calls, one real question at a time (query encoding included)."""
    latencies = []
    for question, _ in sample:
        began = time.perf_counter()
        retriever.retrieve(question, 5)
        latencies.append(time.perf_counter() - began)
    return {
        "latency_questions": len(sample),
        "latency_ms_p50": round(1000 * percentile(latencies, 50), 2),
        "latency_ms_p95": round(1000 * percentile(latencies, 95), 2),
    }


def recall_scores(ranks: list[int | None]) -> dict:
    hits = lambda k: sum(1 for r in ranks if r is not None and r <= k) / len(ranks)  # noqa: E731
    return {
        "recall@1": round(hits(1), 4),
        "recall@5": round(hits(5), 4),
        "recall@20": round(hits(20), 4),
        "mrr@20": round(sum(1 / r for r in ranks if r) / len(ranks), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", default="../shared/data/squad/dev-v1.1.json")
    parser.add_argument("--train", default="../shared/data/squad/train-v1.1.json")
    parser.add_argument("--tune", action="store_true", help="compare fusion settings on a SQuAD train sample")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="re-measure only the latencies (e.g. on an idle machine) into the existing --out file",
    )
    parser.add_argument("--latency-sample", type=int, default=500, help="questions timed one by one")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or f"bench/results/retrieval_{'tuning' if args.tune else 'squad'}.json")
    encoder = SentenceTransformerEncoder()
    encoder.encode_documents(["warm up"])  # load the model outside the timings
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus.mkdir()
        if args.tune:
            questions, paragraphs = write_corpus(Path(args.train), corpus, min_paragraphs=2000)
        else:
            questions, paragraphs = write_corpus(Path(args.dev), corpus)
        questions = questions[: args.limit] if args.limit else questions
        began = time.perf_counter()
        build_index(corpus, index_dir, encoder=encoder)
        build_seconds = time.perf_counter() - began
        index = load_index(index_dir, encoder_id=encoder.encoder_id, dimension=encoder.dimension)
        results["collection"] = {"paragraphs": paragraphs, "chunks": len(index.chunks), "questions": len(questions)}
        if args.latency_only:
            results = json.loads(out.read_text())
            live = CorpusRetriever(index, encoder)
            live_systems: dict[str, Retriever] = {
                "dense": live.dense,
                "bm25": live.bm25,
                "hybrid": live.hybrid,
                "hybrid_convex": HybridRetriever(live.dense, live.bm25, fusion="convex"),
            }
            sample = questions[:: max(1, len(questions) // args.latency_sample)][: args.latency_sample]
            for name, retriever in live_systems.items():
                results[name].update(latency_scores(retriever, sample))
                print(name, results[name], flush=True)
            results["latency_command"] = "python bench/retrieval_squad.py --latency-only"
            out.write_text(json.dumps(results, indent=1))
            return
        if not args.tune:
            texts = [embedding_text(c, index.documents[c.doc_id]) for c in index.chunks]
            began = time.perf_counter()
            encoder.encode_documents(texts)
            direct_seconds = time.perf_counter() - began
            results["index_build_seconds"] = round(build_seconds, 1)
            results["embedding_throughput"] = {
                "qa_index_chunks_per_s": round(len(texts) / build_seconds, 1),
                "encoder_direct_chunks_per_s": round(len(texts) / direct_seconds, 1),
                "ratio": round(direct_seconds / build_seconds, 3),
            }
        print(json.dumps(results, indent=1), flush=True)
        # Recall over every question uses query vectors embedded in one batch (same model, same vectors);
        # latency is measured separately, one real question at a time through the real encoder.
        began = time.perf_counter()
        cached = PrecomputedQueries(encoder, [q for q, _ in questions])
        results["query_batch_embedding_seconds"] = round(time.perf_counter() - began, 1)
        retriever = CorpusRetriever(index, cached)
        depth = retriever.hybrid.depth  # 100 >= 4 * 25: what a live hybrid query of k=25 fetches
        dense = Cached({q: retriever.dense.retrieve(q, depth) for q, _ in questions})
        bm25 = Cached({q: retriever.bm25.retrieve(q, depth) for q, _ in questions})
        if args.tune:
            results["grid"] = []
            for setting in TUNING_GRID:
                fused = HybridRetriever(dense, bm25, depth=depth, **setting)
                row = {**setting, **recall_scores(doc_ranks(fused, questions))}
                results["grid"].append(row)
                print(row, flush=True)
        else:
            live = CorpusRetriever(index, encoder)
            convex = HybridRetriever(live.dense, live.bm25, fusion="convex")
            systems: dict[str, tuple[Retriever, Retriever]] = {
                "dense": (dense, live.dense),
                "bm25": (bm25, live.bm25),
                "hybrid": (HybridRetriever(dense, bm25), live.hybrid),
                "hybrid_convex": (HybridRetriever(dense, bm25, fusion="convex"), convex),
            }
            sample = questions[:: max(1, len(questions) // args.latency_sample)][: args.latency_sample]
            for name, (replay, real) in systems.items():
                results[name] = {**recall_scores(doc_ranks(replay, questions)), **latency_scores(real, sample)}
                print(name, results[name], flush=True)
    results["command"] = "python bench/retrieval_squad.py" + (" --tune" if args.tune else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
