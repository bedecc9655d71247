"""The Ray engine (``qa index --engine ray``) against the local one on the same corpus: reading and chunking,
embedding, and whether they give the same chunks and the same vectors.

    python bench/ray_throughput.py [--passages 10000] [--actors 2]

The corpus is the first ``--passages`` real paragraphs of ``bench/scale.py`` (SQuAD dev, then train) written
as JSONL exports of 500 records each (title and text), in a temporary folder. Each engine does what a build
does before writing its store: read and chunk every file, then embed every chunk (``embeddings.engine``).
Ray's start (workers, actors loading the model) is timed apart. Writes ``bench/results/ray_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scale import paragraph_documents  # noqa: E402

from embeddings.chunking import embedding_text  # noqa: E402
from embeddings.corpus import corpus_files  # noqa: E402
from embeddings.engine import BuildEngine  # noqa: E402

RECORDS_PER_FILE = 500


def write_corpus(folder: Path, passages: int) -> None:
    documents, _ = paragraph_documents()
    for start in range(0, passages, RECORDS_PER_FILE):
        lines = [
            json.dumps({"id": f"p{i}", "title": d.title, "text": d.text})
            for i, d in enumerate(documents[start : min(passages, start + RECORDS_PER_FILE)], start)
        ]
        (folder / f"export-{start // RECORDS_PER_FILE:03d}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def run(engine: BuildEngine, root: Path) -> dict:
    began = time.perf_counter()
    reads = engine.read(root, corpus_files(root))
    read_s = time.perf_counter() - began
    by_id = {d.doc_id: d for read in reads for d in read.documents}
    chunks = [chunk for read in reads for chunk in read.chunks]
    texts = [embedding_text(chunk, by_id[chunk.doc_id]) for chunk in chunks]
    began = time.perf_counter()
    vectors = engine.embed(texts)
    embed_s = time.perf_counter() - began
    return {"chunks": chunks, "vectors": vectors, "read_s": read_s, "embed_s": embed_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=10_000, help="how many real paragraphs to index")
    parser.add_argument("--actors", type=int, default=os.cpu_count() or 1, help="Ray actors (one core each)")
    args = parser.parse_args()
    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.engine import LocalEngine
    from embeddings.ray_engine import RayEngine

    with tempfile.TemporaryDirectory(prefix="ray-bench-") as folder:
        root = Path(folder).resolve()
        write_corpus(root, args.passages)
        encoder = SentenceTransformerEncoder()
        encoder.encode_documents(["warm up"])  # the model loaded before the clock starts, as the actors load theirs
        local = run(LocalEngine(encoder), root)

        engine = RayEngine(encoder, actors=args.actors)
        began = time.perf_counter()
        engine.embed(["warm up"] * args.actors * 2)  # start Ray and the actor pool (each actor loads the model)
        start_s = time.perf_counter() - began
        pooled = run(engine, root)

    local_s = local["read_s"] + local["embed_s"]
    ray_s = pooled["read_s"] + pooled["embed_s"]
    result = {
        "passages": len(local["chunks"]),
        "files": -(-args.passages // RECORDS_PER_FILE),
        "cpus": os.cpu_count(),
        "actors": args.actors,
        "local_read_s": round(local["read_s"], 1),
        "local_embed_s": round(local["embed_s"], 1),
        "local_per_s": round(len(local["chunks"]) / local_s, 1),
        "ray_start_s": round(start_s, 1),
        "ray_read_s": round(pooled["read_s"], 1),
        "ray_embed_s": round(pooled["embed_s"], 1),
        "ray_per_s": round(len(pooled["chunks"]) / ray_s, 1),
        "ray_over_local": round(local_s / ray_s, 3),
        "ray_over_local_embedding_only": round(local["embed_s"] / pooled["embed_s"], 3),
        "ray_over_local_with_start": round(local_s / (ray_s + start_s), 3),
        "same_chunks": pooled["chunks"] == local["chunks"],
        "max_abs_difference": float(np.abs(pooled["vectors"] - local["vectors"]).max()),
        "identical": bool(np.array_equal(pooled["vectors"], local["vectors"])),
        "command": "python bench/ray_throughput.py " + " ".join(sys.argv[1:]),
    }
    (ROOT / "bench" / "results" / "ray_throughput.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
