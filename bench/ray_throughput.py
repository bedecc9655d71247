"""Embedding throughput of the Ray Data actor pool (``qa index --engine ray``) against the one-process
encoder, on the same passages, and whether the vectors are the same.

    python bench/ray_throughput.py [--passages 10000] [--actors 2]

The passages are the first real chunks of ``bench/scale.py`` (SQuAD dev, then train), embedded as
``qa index`` embeds them. Ray's start (workers, actors loading the model) is timed apart from the embedding.
Writes ``bench/results/ray_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scale import real_chunks  # noqa: E402

from embeddings.chunking import embedding_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=10_000, help="how many passages to embed")
    parser.add_argument("--actors", type=int, default=os.cpu_count() or 1, help="Ray actors (one core each)")
    args = parser.parse_args()
    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.ray_engine import ray_embedder

    documents, chunks, _ = real_chunks()
    by_id = {d.doc_id: d for d in documents}
    texts = [embedding_text(c, by_id[c.doc_id]) for c in chunks[: args.passages]]
    encoder = SentenceTransformerEncoder()
    encoder.encode_documents(texts[:32])  # the model loaded before the clock starts, as Ray's actors load theirs
    began = time.perf_counter()
    single = encoder.encode_documents(texts)
    single_s = time.perf_counter() - began

    embed = ray_embedder(actors=args.actors)
    began = time.perf_counter()
    embed(texts[: 64 * args.actors])  # start Ray and the actors (each loads the model)
    warm_s = time.perf_counter() - began
    began = time.perf_counter()
    pooled = embed(texts)
    ray_s = time.perf_counter() - began
    difference = float(np.abs(pooled - single).max())
    result = {
        "passages": len(texts),
        "cpus": os.cpu_count(),
        "actors": args.actors,
        "single_process_s": round(single_s, 1),
        "single_process_per_s": round(len(texts) / single_s, 1),
        "ray_start_s": round(warm_s, 1),
        "ray_s": round(ray_s, 1),
        "ray_per_s": round(len(texts) / ray_s, 1),
        "ray_over_single": round(single_s / ray_s, 3),
        "ray_over_single_with_start": round(single_s / (ray_s + warm_s), 3),
        "max_abs_difference": difference,
        "identical": bool(np.array_equal(pooled, single)),
        "command": "python bench/ray_throughput.py " + " ".join(sys.argv[1:]),
    }
    (ROOT / "bench" / "results" / "ray_throughput.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
