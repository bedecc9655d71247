"""Build, save and load the corpus index: a self-describing folder written atomically.

Folder layout: ``index.faiss`` (inner product over normalised vectors: exact, HNSW or IVF-PQ), ``vectors.npy``
(the same vectors, the embedding cache for the next build), ``chunks.jsonl``, ``documents.jsonl`` and
``manifest.json``. Nothing is pickled. A build writes a temporary folder beside the target and swaps it in
with ``os.replace``, so a crash at any moment leaves the previous index loadable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.chunking import Chunk, chunk_document, embedding_text
from embeddings.corpus import corpus_files, corpus_fingerprint, corpus_root, log_skipped
from embeddings.documents import Document, SkippedFile
from embeddings.encoder import Encoder
from embeddings.engine import BuildEngine, LocalEngine
from embeddings.errors import (
    REBUILD_HINT,
    EmptyCorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotBuiltError,
    StaleIndexError,
)

LOG = logging.getLogger(__name__)

# Bump when cleaning or chunking changes: an index built by other code is then reported as stale.
PIPELINE_VERSION = "3"
FORMAT_VERSION = 1
INDEX_FILES = ("index.faiss", "vectors.npy", "chunks.jsonl", "documents.jsonl", "manifest.json")


@dataclass(frozen=True)
class IndexManifest:
    """What an index was built from and with; compared on load before anything is trusted."""

    encoder_id: str
    dimension: int
    index_type: str
    corpus_fingerprint: str
    chunk_count: int
    document_count: int
    metric: str = "inner_product"
    normalized: bool = True
    pipeline_version: str = PIPELINE_VERSION
    format_version: int = FORMAT_VERSION
    corpus_dir: str = ""
    built_at: str = ""
    versions: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)


@dataclass(frozen=True)
class BuildReport:
    """Outcome of ``build_index``: the manifest, how many chunks were embedded or reused, what was skipped."""

    manifest: IndexManifest
    embedded: int
    reused: int
    skipped: tuple[SkippedFile, ...]
    seconds: float


@dataclass
class CorpusIndex:
    """A loaded index: documents, chunks in vector order, their vectors and the FAISS index over them."""

    manifest: IndexManifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: Any
    path: Path | None = None
    _chunks_by_doc: dict[str, tuple[Chunk, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        self._chunks_by_doc = {
            doc_id: tuple(sorted(chunks, key=lambda c: c.index)) for doc_id, chunks in by_doc.items()
        }

    def chunks_of(self, doc_id: str) -> tuple[Chunk, ...]:
        """The chunks of one document in reading order (empty for an unknown document)."""
        return self._chunks_by_doc.get(doc_id, ())

    def search_vectors(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk positions) per query row; positions are -1 where fewer exist."""
        k = max(1, min(k, len(self.chunks)))
        return self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    # False here: BM25 is built over ``chunks`` in memory by the retriever. A store that runs keyword search
    # itself (Milvus) says True and implements ``keyword_search``.
    searches_keywords = False

    def keyword_search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk position, BM25 score) best first, where ``searches_keywords`` is True."""
        raise NotImplementedError("this index leaves keyword search to embeddings.retrieval.BM25Retriever")


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _versions() -> dict:
    import faiss

    found = {"faiss": faiss.__version__, "numpy": np.__version__}
    try:
        import sentence_transformers

        found["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        pass
    return found


INDEX_TYPES = ("flat", "hnsw", "ivfpq")
# Below this many passages an exact search takes a few milliseconds and an approximate one buys nothing.
APPROXIMATE_FROM = 200_000
IVFPQ_MIN_PASSAGES = 20_000  # product quantisation needs this many vectors to train its codebooks
# Chosen at a million passages on SQuAD *train* questions of 20 articles kept out of the copies, whose
# paragraphs, like a real question's, have no near-duplicate around them (HNSW's hard case):
# efConstruction 400, and efSearch 3,072, the smallest depth whose recall@5 of the question's own paragraph
# is within 0.005 of exact search's (bench/scale.py hnsw-sweep; 13.7 ms p95 there). M 48 and
# efConstruction 200 were measured too and reach no depth that close.
HNSW_NEIGHBOURS, HNSW_BUILD_DEPTH, HNSW_SEARCH_DEPTH = 32, 400, 3072
IVF_PROBES, PQ_BYTES, REFINE_FACTOR = 32, 48, 4


def choose_index_type(passages: int) -> str:
    """The FAISS index type for a corpus of ``passages`` chunks: exact ("flat") while that is fast, a graph
    ("hnsw") beyond ``APPROXIMATE_FROM``; see ``bench/results/scale.json`` for the measurements behind it.
    ("ivfpq" is for corpora whose float vectors do not fit in memory; it is chosen by name only.)"""
    return "flat" if passages < APPROXIMATE_FROM else "hnsw"


def _tune(index: Any, index_type: str) -> Any:
    """Set the search-time parameters (also after loading: they are not all saved with the index)."""
    import faiss

    if index_type == "hnsw":
        index.hnsw.efSearch = HNSW_SEARCH_DEPTH
    elif index_type == "ivfpq":
        faiss.extract_index_ivf(index).nprobe = IVF_PROBES
        refine: Any = faiss.downcast_index(index)
        refine.k_factor = REFINE_FACTOR
    return index


def _make_faiss_index(vectors: np.ndarray, index_type: str) -> Any:
    """An inner-product FAISS index over ``vectors``: "flat" (exact), "hnsw" (a graph over the float
    vectors) or "ivfpq" (inverted lists of 48-byte product-quantised codes, the top candidates re-scored
    with 8-bit scalar codes: about a tenth of the memory of the others)."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if index_type == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_BUILD_DEPTH
    elif index_type == "ivfpq":
        if len(vectors) < IVFPQ_MIN_PASSAGES:
            raise ValueError(
                f"index type 'ivfpq' needs at least {IVFPQ_MIN_PASSAGES:,} passages to train on "
                f"({len(vectors):,} here); use 'flat'"
            )
        lists = int(4 * np.sqrt(len(vectors)))
        code_bytes = max(m for m in range(1, PQ_BYTES + 1) if dimension % m == 0)  # 48 for MiniLM's 384
        factory = f"IVF{lists},PQ{code_bytes},Refine(SQ8)"
        index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).permutation(len(vectors))[: max(lists * 40, 50_000)]
        index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
    else:
        raise ValueError(f"unknown index type {index_type!r}; use one of {', '.join(INDEX_TYPES)}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors))
    return _tune(index, index_type)


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` where ``target`` is: the old ``target`` moves aside to ``.NAME.old`` first and
    is deleted after, so a crash at any moment leaves a whole folder to find (a backup left by an earlier
    crash is restored when ``target`` is missing, else dropped)."""
    backup = _settle_backup(target)
    if target.exists():
        os.replace(target, backup)
    os.replace(new, target)
    shutil.rmtree(backup, ignore_errors=True)


def _settle_backup(target: Path) -> Path:
    """Resolve a ``.NAME.old`` backup a crash left beside ``target``: drop it when ``target`` is whole,
    put it back when ``target`` is missing. Returns the backup's path."""
    backup = target.with_name(f".{target.name}.old")
    if backup.exists():
        if target.exists():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(backup, target)
    return backup


# Temporary build folders this process is writing now. Loading an index cleans up stale temporary folders, and a
# server loads its index while its watcher thread builds the next one: that build's folder is not stale.
_ACTIVE_TEMPORARIES: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def recover_interrupted_swap(index_dir: Path) -> None:
    """Finish or undo a swap that a crash interrupted, and remove stale temporary folders: those of dead
    processes, and this process's own except the ones a build of it is writing now."""
    _settle_backup(index_dir)
    with _ACTIVE_LOCK:
        active = set(_ACTIVE_TEMPORARIES)
    for temporary in index_dir.parent.glob(f".{index_dir.name}.tmp-*"):
        if temporary.name in active:
            continue
        pid = temporary.name.rsplit("-", 2)[-2]
        if not (pid.isdigit() and _process_alive(int(pid))) or int(pid) == os.getpid():
            shutil.rmtree(temporary, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _previous_vectors(index_dir: Path, encoder: Encoder) -> dict[str, np.ndarray]:
    """Vectors of the current index keyed by embedded-text hash, if it was built with the same encoder."""
    try:
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("encoder_id") != encoder.encoder_id or manifest.get("dimension") != encoder.dimension:
            return {}
        keys = [
            json.loads(line)["text_key"]
            for line in (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        vectors = np.load(index_dir / "vectors.npy", allow_pickle=False)
        if len(keys) != len(vectors):
            return {}
        return dict(zip(keys, vectors, strict=True))
    except (OSError, ValueError, KeyError, TypeError):
        return {}


@dataclass(frozen=True)
class PreparedBuild:
    """Everything a store writes: the corpus read, chunked and embedded (``texts`` are what was embedded)."""

    fingerprint: str
    documents: list[Document]
    skipped: list[SkippedFile]
    chunks: list[Chunk]
    texts: list[str]
    keys: list[str]
    vectors: np.ndarray
    embedded: int


def prepare_build(
    corpus_dir: str | Path,
    *,
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    progress: bool = False,
    engine: BuildEngine | None = None,
) -> PreparedBuild:
    """Read, clean and chunk ``corpus_dir`` and embed the chunks, taking vectors from ``cache`` (keyed by
    the hash of the embedded text) where it has them. ``engine`` does the reading, chunking and embedding
    (default: ``LocalEngine(encoder)``, this process; ``embeddings.ray_engine.RayEngine`` runs them on Ray,
    with the same results). Raises ``CorpusNotFoundError``/``EmptyCorpusError``."""
    engine = engine if engine is not None else LocalEngine(encoder)
    root = corpus_root(corpus_dir)
    fingerprint = corpus_fingerprint(corpus_dir)
    reads = engine.read(root, corpus_files(root), progress=progress)
    documents = [document for read in reads for document in read.documents]
    skipped = [item for read in reads for item in read.skipped]
    log_skipped(skipped)
    if not documents:
        raise EmptyCorpusError(
            f"{corpus_dir} holds no readable document; add articles (.txt, .md, .html, .pdf, .jsonl, .csv) "
            "and run qa index again."
        )
    by_id = {d.doc_id: d for d in documents}
    chunks = [chunk for read in reads for chunk in read.chunks]
    texts = [embedding_text(chunk, by_id[chunk.doc_id]) for chunk in chunks]
    keys = [_text_key(text) for text in texts]
    missing = [i for i, key in enumerate(keys) if key not in cache]
    vectors = np.zeros((len(chunks), encoder.dimension), dtype=np.float32)
    if missing:
        vectors[missing] = engine.embed([texts[i] for i in missing], progress=progress)
    for i, key in enumerate(keys):
        if key in cache:
            vectors[i] = cache[key]
    return PreparedBuild(fingerprint, documents, skipped, chunks, texts, keys, vectors, len(missing))


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    encoder: Encoder,
    index_type: str = "auto",
    after_write=None,
    progress: bool = False,
    engine: BuildEngine | None = None,
) -> BuildReport:
    """Read ``corpus_dir``, chunk, embed (reusing vectors of unchanged chunks) and save to ``index_dir``.

    ``index_type`` is one of ``INDEX_TYPES`` or "auto" (``choose_index_type`` by the number of chunks; the
    manifest records the one used). ``after_write`` (tests only) is called with the temporary folder just
    before the swap. ``engine`` reads, chunks and embeds (see ``prepare_build``). ``progress`` shows
    bars for reading the files and embedding the passages (on a terminal). Raises
    ``CorpusNotFoundError`` for a missing corpus folder and ``EmptyCorpusError`` when no document could be
    read (subclasses of ``FileNotFoundError`` and ``ValueError``).
    """
    began = time.perf_counter()
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_swap(index_dir)
    cache = _previous_vectors(index_dir, encoder)
    prepared = prepare_build(corpus_dir, encoder=encoder, cache=cache, progress=progress, engine=engine)
    fingerprint, documents, skipped = prepared.fingerprint, prepared.documents, prepared.skipped
    chunks, keys, vectors, missing = prepared.chunks, prepared.keys, prepared.vectors, prepared.embedded
    if index_type == "auto":
        index_type = choose_index_type(len(chunks))
    faiss_index = _make_faiss_index(vectors, index_type)
    manifest = IndexManifest(
        encoder_id=encoder.encoder_id,
        dimension=encoder.dimension,
        index_type=index_type,
        corpus_fingerprint=fingerprint,
        chunk_count=len(chunks),
        document_count=len(documents),
        corpus_dir=str(corpus_dir),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        versions=_versions(),
        skipped=[dataclasses.asdict(s) for s in skipped],
    )
    temporary = index_dir.with_name(f".{index_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    with _ACTIVE_LOCK:
        _ACTIVE_TEMPORARIES.add(temporary.name)  # before it exists: no clean-up may see it unregistered
    try:
        temporary.mkdir()
        _write_index(temporary, manifest, documents, chunks, keys, vectors, faiss_index)
        if after_write is not None:
            after_write(temporary)
        replace_folder(temporary, index_dir)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        with _ACTIVE_LOCK:
            _ACTIVE_TEMPORARIES.discard(temporary.name)
    return BuildReport(manifest, missing, len(chunks) - missing, tuple(skipped), time.perf_counter() - began)


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_index(folder, manifest, documents, chunks, keys, vectors, faiss_index) -> None:
    import faiss

    faiss.write_index(faiss_index, str(folder / "index.faiss"))
    with open(folder / "vectors.npy", "wb") as handle:
        np.save(handle, vectors, allow_pickle=False)
    chunk_lines = [
        json.dumps({**dataclasses.asdict(chunk), "text_key": key}, ensure_ascii=False)
        for chunk, key in zip(chunks, keys, strict=True)
    ]
    _fsync_write(folder / "chunks.jsonl", ("\n".join(chunk_lines) + "\n").encode("utf-8", "surrogatepass"))
    document_lines = [json.dumps(dataclasses.asdict(d), ensure_ascii=False) for d in documents]
    _fsync_write(folder / "documents.jsonl", ("\n".join(document_lines) + "\n").encode("utf-8", "surrogatepass"))
    # The manifest is written last: a folder without one was never finished.
    _fsync_write(folder / "manifest.json", json.dumps(dataclasses.asdict(manifest), indent=1).encode("utf-8"))


def read_manifest(index_dir: str | Path) -> IndexManifest:
    """Read ``manifest.json``; raises ``IndexNotBuiltError`` or ``IndexCorruptError``."""
    index_dir = Path(index_dir)
    recover_interrupted_swap(index_dir) if index_dir.parent.exists() else None
    path = index_dir / "manifest.json"
    if not path.exists():
        raise IndexNotBuiltError(f"No index at {index_dir}. Build it with: qa index --index {index_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(IndexManifest)}
        return IndexManifest(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise IndexCorruptError(f"The index manifest {path} is unreadable ({error}). {_hint(index_dir)}") from error


def _hint(index_dir: Path, corpus_dir: str | Path = "corpus") -> str:
    return REBUILD_HINT.format(corpus=corpus_dir, index=index_dir)


def check_fresh(manifest: IndexManifest, index_dir: Path, corpus_dir: str | Path, *, hint: str | None = None) -> None:
    """Raise ``StaleIndexError`` when the corpus or the ingestion code changed since the build. ``hint`` is
    the rebuild command for the message (default: the folder store's)."""
    hint = hint if hint is not None else _hint(index_dir, corpus_dir)
    if manifest.pipeline_version != PIPELINE_VERSION:
        raise StaleIndexError(f"The index at {index_dir} was built by older ingestion code. {hint}")
    if Path(corpus_dir).is_dir() and corpus_fingerprint(corpus_dir) != manifest.corpus_fingerprint:
        raise StaleIndexError(f"The corpus in {corpus_dir} changed since the index at {index_dir} was built. {hint}")


def load_index(
    index_dir: str | Path, *, encoder_id: str, dimension: int, corpus_dir: str | Path | None = None
) -> CorpusIndex:
    """Load and validate a saved index.

    Raises ``IndexNotBuiltError`` (no index), ``IndexMismatchError`` (built with another encoder or
    dimension), ``IndexCorruptError`` (missing, truncated or inconsistent files) and, when ``corpus_dir``
    is given, ``StaleIndexError`` (corpus changed since the build). Every message says how to rebuild.
    """
    import faiss

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"The index at {index_dir} has format {manifest.format_version}, expected {FORMAT_VERSION}. "
            f"{_hint(index_dir)}"
        )
    if manifest.encoder_id != encoder_id or manifest.dimension != dimension:
        raise IndexMismatchError(
            f"The index at {index_dir} was built with encoder {manifest.encoder_id!r} "
            f"(dimension {manifest.dimension}), but {encoder_id!r} (dimension {dimension}) is in use. "
            f"{_hint(index_dir, corpus_dir or 'corpus')}"
        )
    if corpus_dir is not None:
        check_fresh(manifest, index_dir, corpus_dir)
    hint = _hint(index_dir, corpus_dir or "corpus")
    try:
        faiss_index = _tune(faiss.read_index(str(index_dir / "index.faiss")), manifest.index_type)
        # Mapped, not read: answering never touches them (they are the next build's embedding cache), and a
        # million of them would double the index's memory.
        vectors = np.load(index_dir / "vectors.npy", allow_pickle=False, mmap_mode="r")
        chunk_rows = [
            json.loads(line) for line in (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line
        ]
        document_rows = [
            json.loads(line)
            for line in (index_dir / "documents.jsonl").read_text(encoding="utf-8").splitlines()
            if line
        ]
        chunks = [Chunk(**{k: v for k, v in row.items() if k != "text_key"}) for row in chunk_rows]
        documents = {
            row["doc_id"]: Document(**{**row, "paragraph_starts": tuple(row["paragraph_starts"])})
            for row in document_rows
        }
    except (OSError, RuntimeError, ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        raise IndexCorruptError(
            f"The index at {index_dir} is damaged ({type(error).__name__}: {str(error)[:200]}). {hint}"
        ) from error
    problems = []
    if not (faiss_index.ntotal == len(chunks) == len(vectors) == manifest.chunk_count):
        problems.append(
            f"{faiss_index.ntotal} vectors in index.faiss, {len(vectors)} in vectors.npy, {len(chunks)} chunks, "
            f"manifest says {manifest.chunk_count}"
        )
    if faiss_index.d != dimension or vectors.ndim != 2 or vectors.shape[1] != dimension:
        problems.append(f"vector dimension {faiss_index.d} does not match {dimension}")
    for chunk in chunks:
        document = documents.get(chunk.doc_id)
        if document is None or document.text[chunk.start : chunk.end] != chunk.text:
            problems.append(f"chunk {chunk.chunk_id} does not match its document")
            break
    if problems:
        raise IndexCorruptError(f"The index at {index_dir} is inconsistent: {'; '.join(problems)}. {hint}")
    return CorpusIndex(manifest, documents, chunks, vectors, faiss_index, index_dir)


def index_from_documents(documents: list[Document], *, encoder: Encoder, index_type: str = "flat") -> CorpusIndex:
    """Build an in-memory index (nothing written) from already-cleaned documents: for benchmarks and tests."""
    chunks = [chunk for document in documents for chunk in chunk_document(document)]
    by_id = {d.doc_id: d for d in documents}
    vectors = LocalEngine(encoder).embed([embedding_text(c, by_id[c.doc_id]) for c in chunks])
    return index_from_vectors(documents, chunks, vectors, encoder=encoder, index_type=index_type)


def index_from_vectors(
    documents: list[Document], chunks: list[Chunk], vectors: np.ndarray, *, encoder: Encoder, index_type: str = "flat"
) -> CorpusIndex:
    """An in-memory index over chunks already embedded (row i of ``vectors`` is ``chunks[i]``), e.g. from a
    benchmark's embedding cache. Raises ``ValueError`` when the counts or the dimension disagree."""
    if len(vectors) != len(chunks) or (len(vectors) and vectors.shape[1] != encoder.dimension):
        raise ValueError(f"{len(vectors)} vectors for {len(chunks)} chunks (dimension {encoder.dimension})")
    if index_type == "auto":
        index_type = choose_index_type(len(chunks))
    manifest = IndexManifest(encoder.encoder_id, encoder.dimension, index_type, "", len(chunks), len(documents))
    by_id = {d.doc_id: d for d in documents}
    return CorpusIndex(manifest, by_id, chunks, vectors, _make_faiss_index(vectors, index_type))
