"""How retrieval scales from ten thousand to a million passages on this machine, and end-to-end answers over
the ~20k-paragraph SQuAD corpus.

Stages (each resumable; caches in bench/.cache/scale, git-ignored):

    python bench/scale.py embed      # real passages -> vectors, in shards, with a progress bar (about an hour)
    python bench/scale.py hnsw-sweep # HNSW search depth, chosen on held-out train questions
    python bench/scale.py indexes    # flat / hnsw / ivfpq at 10k, 100k, 1M -> bench/results/scale.json + plot
    python bench/scale.py answer     # qa.answer over SQuAD 1.1 train+dev paragraphs, 1,000 seeded dev questions

**The passages.** Real text first: every paragraph of SQuAD 1.1 dev and train and of SQuADShifts
(new_wiki, reddit, amazon reviews), each paragraph a document, chunked and embedded exactly as
``qa index`` does (title line + passage). Corpora larger than the real ones are filled with **perturbed
copies** of real train/SQuADShifts passages: the vector of a random real passage plus Gaussian noise
(renormalised; cosine to its source about 0.85), and for BM25 its text with a fifth of the words replaced
by random words of the corpus. The copies are distractors near real passages, never near the dev
paragraphs, so the gold paragraph stays unique. They are labelled in the results. Twenty seeded SQuAD train
articles are kept out of the copies too: their questions, like dev's, look for a paragraph with no copy
around it (HNSW's hard case), and HNSW's search depth is chosen on them (``hnsw-sweep``), never on dev.

**What is measured**, per size and index type: build time, memory (FAISS ``serialize_index`` size, which
is what the index holds in RAM) and disk; BM25 build time, memory (its arrays) and disk; single-query
retrieval latency p50/p95 (one query at a time, as a live server searches); recall@5 of the SQuAD dev
questions' own paragraph, and overlap@5 with the exact (flat) top 5.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.chunking import Chunk, chunk_document, embedding_text  # noqa: E402
from embeddings.documents import Document, build_document, text_blocks  # noqa: E402
from embeddings.index import HNSW_BUILD_DEPTH, HNSW_NEIGHBOURS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SOURCES = (
    ("squad-dev", DATA / "squad" / "dev-v1.1.json"),
    ("squad-train", DATA / "squad" / "train-v1.1.json"),
    ("shifts-new_wiki", DATA / "squadshifts" / "new_wiki_v1.0.json"),
    ("shifts-reddit", DATA / "squadshifts" / "reddit_v1.0.json"),
    ("shifts-amazon", DATA / "squadshifts" / "amazon_reviews_v1.0.json"),
)
CACHE = ROOT / "bench" / ".cache" / "scale"
RESULTS = ROOT / "bench" / "results"
SHARD = 2_000
SIZES = (10_000, 100_000, 1_000_000)
QUESTIONS = 1_000
SEED = 13
NOISE = 0.03  # per-dimension standard deviation of the copies' noise: cosine to the source about 0.85
HELD_OUT_ARTICLES = 20  # SQuAD train articles never copied: the questions search depth is chosen on


def paragraph_documents() -> tuple[list[Document], list[str]]:
    """Every real paragraph as a document (id ``source/title/number``), dev first; and each one's source."""
    documents, sources, seen = [], [], set()
    for source, path in SOURCES:
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            title = article["title"].replace("_", " ")
            for number, paragraph in enumerate(article["paragraphs"]):
                context = " ".join(paragraph["context"].split())
                if context in seen:
                    continue
                seen.add(context)
                documents.append(
                    build_document(f"{source}/{article['title']}/{number}", text_blocks(context), title=title)
                )
                sources.append(source)
    return documents, sources


def real_chunks() -> tuple[list[Document], list[Chunk], list[str]]:
    """The real documents, their chunks in order, and each chunk's source."""
    documents, sources = paragraph_documents()
    chunks, chunk_sources = [], []
    for document, source in zip(documents, sources, strict=True):
        for chunk in chunk_document(document, min_words=1):
            chunks.append(chunk)
            chunk_sources.append(source)
    return documents, chunks, chunk_sources


def embed(args: argparse.Namespace) -> None:
    """Embed every real chunk in shards of ``SHARD``; shards already written are kept (resume)."""
    from tqdm import tqdm

    from embeddings.encoder import SentenceTransformerEncoder

    documents, chunks, _ = real_chunks()
    by_id = {d.doc_id: d for d in documents}
    texts = [embedding_text(c, by_id[c.doc_id]) for c in chunks]
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "chunk_ids.json").write_text(json.dumps([c.chunk_id for c in chunks]), encoding="utf-8")
    encoder = SentenceTransformerEncoder()
    shards = range(0, len(texts), SHARD)
    done = sum(1 for start in shards if (CACHE / f"vectors-{start // SHARD:05d}.npy").exists())
    print(f"{len(texts):,} real chunks from {len(documents):,} paragraphs; {done} of {len(shards)} shards cached")
    began = time.perf_counter()
    embedded = 0
    for start in tqdm(shards, desc="embedding", unit="shard", initial=done, total=len(shards)):
        path = CACHE / f"vectors-{start // SHARD:05d}.npy"
        if path.exists():
            continue
        vectors = encoder.encode_documents(texts[start : start + SHARD], show_progress=False)
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, vectors, allow_pickle=False)
        os.replace(temporary, path)
        embedded += len(vectors)
        if args.max_minutes and time.perf_counter() - began > 60 * args.max_minutes:
            print("stopping (time limit); run again to resume")
            return
    seconds = time.perf_counter() - began
    if embedded:
        print(f"embedded {embedded:,} chunks in {seconds:.0f} s ({embedded / seconds:.1f} per second)")
        _merge_json(RESULTS / "scale.json", {"embedding": {"chunks": embedded, "seconds": round(seconds, 1)}})


def real_vectors(count: int) -> np.ndarray:
    """The cached vectors of the first ``count`` real chunks; raises ``SystemExit`` if not all embedded."""
    parts = []
    for start in range(0, count, SHARD):
        path = CACHE / f"vectors-{start // SHARD:05d}.npy"
        if not path.exists():
            raise SystemExit(f"{path} missing: run `python bench/scale.py embed` first")
        parts.append(np.load(path, allow_pickle=False))
    return np.concatenate(parts)[:count]


def corpus_vectors(real: np.ndarray, size: int, copyable: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``size`` vectors: the real ones, then perturbed copies of random ``copyable`` rows of ``real``."""
    if size <= len(real):
        return real[:size]
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), size, 100_000):
        end = min(size, start + 100_000)
        sources = rng.choice(copyable, end - start)
        block = real[sources] + rng.normal(0, NOISE, (end - start, real.shape[1])).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:end] = block
    return out


def corpus_texts(texts: list[str], size: int, copyable: np.ndarray, rng: random.Random) -> list[str]:
    """``size`` texts for BM25 matching ``corpus_vectors``: the real ones, then copies with a fifth of
    their words replaced by random words of the real texts."""
    if size <= len(texts):
        return texts[:size]
    vocabulary = [word for text in texts[:20_000] for word in text.split()]
    out = list(texts)
    sources = copyable.tolist()
    for _ in range(size - len(texts)):
        words = texts[rng.choice(sources)].split()
        for i in rng.sample(range(len(words)), len(words) // 5):
            words[i] = rng.choice(vocabulary)
        out.append(" ".join(words))
    return out


def _title(chunk: Chunk) -> str:
    """The SQuAD article title inside a real chunk's document id (``source/title/number``)."""
    return chunk.doc_id.split("/", 1)[1].rsplit("/", 1)[0]


def held_out_titles() -> set[str]:
    """``HELD_OUT_ARTICLES`` seeded SQuAD train article titles whose paragraphs are never copied."""
    titles = sorted(article["title"] for article in json.loads(SOURCES[1][1].read_text(encoding="utf-8"))["data"])
    return set(random.Random(SEED + 2).sample(titles, HELD_OUT_ARTICLES))


def copyable_rows(chunks: list[Chunk], sources: list[str]) -> np.ndarray:
    """Rows of the real chunks that copies may be made of: not dev, not the held-out train articles."""
    held_out = held_out_titles()
    return np.array(
        [
            i
            for i, (chunk, source) in enumerate(zip(chunks, sources, strict=True))
            if source != "squad-dev" and not (source == "squad-train" and _title(chunk) in held_out)
        ]
    )


def paragraph_questions(
    chunks: list[Chunk], source: int = 0, titles: set[str] | None = None, seed: int = SEED
) -> list[tuple[str, set[int]]]:
    """``QUESTIONS`` seeded questions of ``SOURCES[source]`` (of the articles ``titles`` only, if given),
    each with the positions of its paragraph's chunks."""
    name, path = SOURCES[source]
    positions: dict[str, set[int]] = {}
    for position, chunk in enumerate(chunks):
        if chunk.doc_id.startswith(f"{name}/"):
            positions.setdefault(chunk.doc_id, set()).add(position)
    questions = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        if titles is not None and article["title"] not in titles:
            continue
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{name}/{article['title']}/{number}"
            for qa in paragraph["qas"]:
                if doc_id in positions:
                    questions.append((qa["question"], positions[doc_id]))
    random.Random(seed).shuffle(questions)
    return questions[:QUESTIONS]


def dev_questions(chunks: list[Chunk]) -> list[tuple[str, set[int]]]:
    """``QUESTIONS`` seeded SQuAD 1.1 dev questions, each with the positions of its paragraph's chunks."""
    return paragraph_questions(chunks)


def recall_at_5(top: np.ndarray, golds: list[set[int]]) -> float:
    """Share of questions whose own paragraph (any of its chunks) is among the 5 positions found."""
    return round(float(np.mean([bool(set(row.tolist()) & gold) for row, gold in zip(top, golds, strict=True)])), 4)


def rss_bytes() -> int:
    """This process's resident memory now."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(seconds, q)), 2)


def measure_index(vectors: np.ndarray, queries: np.ndarray, index_type: str, work: Path) -> dict[str, Any]:
    """Build one FAISS index over ``vectors`` and time single queries; returns the row (and top-5s)."""
    import faiss

    from embeddings.index import _make_faiss_index

    began = time.perf_counter()
    index = _make_faiss_index(vectors, index_type)
    build = time.perf_counter() - began
    path = work / f"{index_type}.faiss"
    faiss.write_index(index, str(path))
    memory = int(faiss.serialize_index(index).nbytes)
    top, seconds = [], []
    for row in range(len(queries)):
        query = queries[row : row + 1]
        began = time.perf_counter()
        _, ids = index.search(query, 5)
        seconds.append(time.perf_counter() - began)
        top.append(ids[0])
    path.unlink()
    return {
        "index_type": index_type,
        "build_s": round(build, 1),
        "index_ram_mb": round(memory / 1e6, 1),
        "index_disk_mb": round(memory / 1e6, 1),
        "retrieval_p50_ms": percentile_ms(seconds, 50),
        "retrieval_p95_ms": percentile_ms(seconds, 95),
        "_top": np.array(top),
    }


def measure_bm25(texts: list[str], questions: list[str], work: Path) -> dict[str, Any]:
    """Build BM25 (as ``BM25Retriever`` does) over ``texts``; memory of its arrays, disk, query latency."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    before = rss_bytes()
    began = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - began
    del tokens
    arrays = sum(v.nbytes for v in retriever.scores.values() if hasattr(v, "nbytes"))
    after = rss_bytes()
    folder = work / "bm25"
    retriever.save(str(folder))
    disk = folder_bytes(folder)
    seconds = []
    for question in questions[:200]:
        began = time.perf_counter()
        query = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False)
        retriever.retrieve(query, k=5, show_progress=False, n_threads=1)
        seconds.append(time.perf_counter() - began)
    return {
        "bm25_build_s": round(build, 1),
        "bm25_ram_mb": round(arrays / 1e6, 1),
        "bm25_rss_growth_mb": round((after - before) / 1e6, 1),
        "bm25_disk_mb": round(disk / 1e6, 1),
        "bm25_p50_ms": percentile_ms(seconds, 50),
        "bm25_p95_ms": percentile_ms(seconds, 95),
    }


def indexes(args: argparse.Namespace) -> None:
    """The scale table: for each size, each FAISS index type and BM25."""
    import shutil
    import tempfile

    import faiss

    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.index import HNSW_SEARCH_DEPTH

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    documents, chunks, sources = real_chunks()
    by_id = {d.doc_id: d for d in documents}
    real = real_vectors(len(chunks))
    texts = [embedding_text(c, by_id[c.doc_id]) for c in chunks]
    copyable = copyable_rows(chunks, sources)
    questions = dev_questions(chunks)
    encoder = SentenceTransformerEncoder()
    queries = np.ascontiguousarray(encoder.encode_queries([q for q, _ in questions]), dtype=np.float32)
    rows = []
    for size in args.sizes:
        vectors = corpus_vectors(real, size, copyable, np.random.default_rng(SEED))
        work = Path(tempfile.mkdtemp(prefix="scale-", dir=CACHE))
        try:
            flat_top = None
            for index_type in args.types:
                if index_type == "ivfpq" and size < 20_000:
                    continue
                print(f"{size:,} passages, {index_type} ...", flush=True)
                row = measure_index(vectors, queries, index_type, work)
                top = row.pop("_top")
                if index_type == "flat":
                    flat_top = top
                row.update(
                    passages=size,
                    real_passages=min(size, len(real)),
                    copied_passages=max(0, size - len(real)),
                    vectors_ram_mb=round(vectors.nbytes / 1e6, 1),
                    recall_at_5=round(
                        float(np.mean([bool(set(t) & gold) for t, (_, gold) in zip(top, questions, strict=True)])), 4
                    ),
                )
                if flat_top is not None:
                    row["overlap_at_5_with_flat"] = round(
                        float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top, flat_top, strict=True)])), 4
                    )
                print(json.dumps(row), flush=True)
                rows.append(row)
            if not args.skip_bm25:
                bm25 = measure_bm25(
                    corpus_texts(texts, size, copyable, random.Random(SEED)), [q for q, _ in questions], work
                )
                bm25["passages"] = size
                print(json.dumps(bm25), flush=True)
                rows.append(bm25)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        del vectors
    # Rows of this run replace those of the same size and index type; the others stay.
    measured = {(r["passages"], r.get("index_type", "bm25")) for r in rows}
    previous = (
        json.loads((RESULTS / "scale.json").read_text(encoding="utf-8")) if (RESULTS / "scale.json").exists() else {}
    )
    kept = [r for r in previous.get("indexes", []) if (r["passages"], r.get("index_type", "bm25")) not in measured]
    _merge_json(
        RESULTS / "scale.json",
        {
            "indexes": sorted(kept + rows, key=lambda r: (r["passages"], r.get("index_type", "zz"))),
            "real_chunks": len(real),
            "questions": len(questions),
            "copies": (
                f"perturbed copies of real train/SQuADShifts passages, noise sd {NOISE} per dimension; "
                f"none of dev or of {HELD_OUT_ARTICLES} held-out train articles"
            ),
            "cpus": os.cpu_count(),
            "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
            "hnsw": {
                "neighbours": HNSW_NEIGHBOURS,
                "ef_construction": HNSW_BUILD_DEPTH,
                "ef_search": HNSW_SEARCH_DEPTH,
            },
        },
    )
    plot()


def hnsw_sweep(args: argparse.Namespace) -> None:
    """HNSW's search depth (efSearch) chosen at ``--size`` passages on SQuAD *train* questions of the held-out
    articles (no copies near their paragraphs, as with dev): the smallest depth whose recall@5 of the
    question's own paragraph is within ``--max-gap`` of exact search's. SQuAD dev recall@5 at every depth is
    reported for the record, never used to choose."""
    import faiss

    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.index import _make_faiss_index

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    _, chunks, sources = real_chunks()
    real = real_vectors(len(chunks))
    vectors = corpus_vectors(real, args.size, copyable_rows(chunks, sources), np.random.default_rng(SEED))
    encoder = SentenceTransformerEncoder()
    tuning = paragraph_questions(chunks, source=1, titles=held_out_titles(), seed=SEED + 1)
    tune = np.ascontiguousarray(encoder.encode_queries([q for q, _ in tuning]), dtype=np.float32)
    dev = dev_questions(chunks)
    report = np.ascontiguousarray(encoder.encode_queries([q for q, _ in dev]), dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    exact_tune, exact_report = flat.search(tune, 5)[1], flat.search(report, 5)[1]
    del flat
    flat_tune_recall = recall_at_5(exact_tune, [gold for _, gold in tuning])
    flat_dev_recall = recall_at_5(exact_report, [gold for _, gold in dev])
    import embeddings.index as index_module

    index_module.HNSW_BUILD_DEPTH = args.build_depth
    index_module.HNSW_NEIGHBOURS = args.neighbours
    began = time.perf_counter()
    index = _make_faiss_index(vectors, "hnsw")
    build = time.perf_counter() - began
    memory_mb = round(int(faiss.serialize_index(index).nbytes) / 1e6, 1)
    rows = []
    for depth in args.depths:
        index.hnsw.efSearch = depth
        seconds, found = [], []
        for row in range(len(tune)):
            began = time.perf_counter()
            found.append(index.search(tune[row : row + 1], 5)[1][0])
            seconds.append(time.perf_counter() - began)
        found_report = index.search(report, 5)[1]
        rows.append(
            {
                "ef_search": depth,
                "train_recall_at_5": recall_at_5(np.array(found), [gold for _, gold in tuning]),
                "train_flat_recall_at_5": flat_tune_recall,
                "train_overlap_at_5_with_flat": round(
                    float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, exact_tune, strict=True)])), 4
                ),
                "train_p50_ms": percentile_ms(seconds, 50),
                "train_p95_ms": percentile_ms(seconds, 95),
                "dev_recall_at_5": recall_at_5(found_report, [gold for _, gold in dev]),
                "dev_flat_recall_at_5": flat_dev_recall,
                "dev_overlap_at_5_with_flat": round(
                    float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found_report, exact_report, strict=True)])),
                    4,
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    chosen = next((r for r in rows if round(flat_tune_recall - r["train_recall_at_5"], 4) <= args.max_gap), None)
    _merge_json(
        RESULTS / "scale.json",
        {
            args.key: {
                "passages": args.size,
                "neighbours": args.neighbours,
                "ef_construction": args.build_depth,
                "build_s": round(build, 1),
                "index_ram_mb": memory_mb,
                "tuning_questions": f"{len(tuning)} SQuAD train questions of {HELD_OUT_ARTICLES} held-out articles",
                "max_gap": args.max_gap,
                "chosen_ef_search": chosen["ef_search"] if chosen else None,  # None: no depth reached the gap
                "gap_reached": chosen is not None,
                "rows": rows,
                "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
            }
        },
    )


def answer(args: argparse.Namespace) -> None:
    """``QuestionAnswerer.answer`` over the SQuAD 1.1 train+dev paragraphs (real vectors from the cache, the
    shipped reader), ``QUESTIONS`` seeded dev questions: EM, F1, latency."""
    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.index import index_from_vectors
    from qa.metrics import exact_match, f1_score
    from qa.pipeline import QuestionAnswerer

    documents, chunks, sources = real_chunks()
    keep = [i for i, s in enumerate(sources) if s.startswith("squad-")]
    chunks = [chunks[i] for i in keep]
    kept_docs = {c.doc_id for c in chunks}
    documents = [d for d in documents if d.doc_id in kept_docs]
    vectors = real_vectors(max(keep) + 1)[keep]
    encoder = SentenceTransformerEncoder()
    index = index_from_vectors(documents, chunks, vectors, encoder=encoder, index_type="auto")
    answerer = QuestionAnswerer(encoder=encoder, index=index).load()
    data = json.loads(SOURCES[0][1].read_text(encoding="utf-8"))["data"]
    pool = [
        (qa["question"], [a["text"] for a in qa["answers"]]) for a in data for p in a["paragraphs"] for qa in p["qas"]
    ]
    random.Random(SEED).shuffle(pool)
    pool = pool[: args.questions]
    answerer.answer(pool[0][0])  # warm
    ems, f1s, seconds, answered = [], [], [], []
    for question, gold in pool:
        began = time.perf_counter()
        result = answerer.answer(question)
        seconds.append(time.perf_counter() - began)
        ems.append(exact_match(result.text, gold))
        f1s.append(f1_score(result.text, gold))
        answered.append(result.found)
    row = {
        "passages": len(chunks),
        "documents": len(documents),
        "index_type": index.manifest.index_type,
        "questions": len(pool),
        "EM": round(100 * float(np.mean(ems)), 2),
        "F1": round(100 * float(np.mean(f1s)), 2),
        "answered": round(float(np.mean(answered)), 4),
        "latency_p50_ms": percentile_ms(seconds, 50),
        "latency_p95_ms": percentile_ms(seconds, 95),
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(row, indent=1))
    _merge_json(RESULTS / "scale.json", {"end_to_end_squad_train_dev": row})


def plot() -> None:
    """Latency and memory against corpus size, one line per index type: bench/results/scale.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = json.loads((RESULTS / "scale.json").read_text(encoding="utf-8"))["indexes"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for index_type in ("flat", "hnsw", "ivfpq"):
        mine = sorted((r for r in rows if r.get("index_type") == index_type), key=lambda r: r["passages"])
        if not mine:
            continue
        sizes = [r["passages"] for r in mine]
        left.plot(sizes, [r["retrieval_p95_ms"] for r in mine], marker="o", label=f"{index_type} p95")
        right.plot(sizes, [r["index_ram_mb"] for r in mine], marker="o", label=index_type)
    bm25 = sorted((r for r in rows if "bm25_ram_mb" in r), key=lambda r: r["passages"])
    if bm25:
        left.plot([r["passages"] for r in bm25], [r["bm25_p95_ms"] for r in bm25], marker="s", label="bm25 p95")
        right.plot([r["passages"] for r in bm25], [r["bm25_ram_mb"] for r in bm25], marker="s", label="bm25")
    for axis, label in ((left, "retrieval latency, ms (one query)"), (right, "memory, MB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("passages")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "scale.png", dpi=120)


def _merge_json(path: Path, update: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.update(update)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stages = parser.add_subparsers(dest="stage", required=True)
    embed_stage = stages.add_parser("embed", help="embed the real passages (resumable)")
    embed_stage.add_argument("--max-minutes", type=float, default=0, help="stop after this long (0: never)")
    embed_stage.set_defaults(run=embed)
    index_stage = stages.add_parser("indexes", help="the table of index types by corpus size")
    index_stage.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="corpus sizes")
    index_stage.add_argument("--types", nargs="+", default=["flat", "hnsw", "ivfpq"], help="FAISS index types")
    index_stage.add_argument("--skip-bm25", action="store_true", help="FAISS only")
    index_stage.set_defaults(run=indexes)
    answer_stage = stages.add_parser("answer", help="qa.answer over the SQuAD train+dev paragraphs")
    answer_stage.add_argument("--questions", type=int, default=QUESTIONS, help="seeded dev questions")
    answer_stage.set_defaults(run=answer)
    sweep_stage = stages.add_parser("hnsw-sweep", help="HNSW search depth chosen on held-out SQuAD train questions")
    sweep_stage.add_argument("--size", type=int, default=1_000_000, help="corpus size")
    sweep_stage.add_argument(
        "--depths", type=int, nargs="+", default=[512, 1024, 1536, 2048, 3072, 4096], help="efSearch values"
    )
    sweep_stage.add_argument(
        "--max-gap", type=float, default=0.005, help="largest recall@5 shortfall against exact search to accept"
    )
    sweep_stage.add_argument(
        "--build-depth", type=int, default=HNSW_BUILD_DEPTH, help="efConstruction of the graph (default: shipped)"
    )
    sweep_stage.add_argument(
        "--neighbours", type=int, default=HNSW_NEIGHBOURS, help="M: links per node of the graph (default: shipped)"
    )
    sweep_stage.add_argument("--key", default="hnsw_sweep", help="where in scale.json the sweep is recorded")
    sweep_stage.set_defaults(run=hnsw_sweep)
    plot_stage = stages.add_parser("plot", help="redraw bench/results/scale.png")
    plot_stage.set_defaults(run=lambda args: plot())
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
