"""The index kept in Milvus instead of a FAISS folder: chunks with their vectors and BM25 terms, documents,
and the manifest, behind the same ``CorpusIndex`` the retrievers and the reader use.

A URI ending in ``.db`` is a Milvus Lite file (embedded, for tests and laptops); ``http://host:19530`` is a
Milvus server or cluster, reached by the same ``pymilvus`` calls. Dense search runs in Milvus (FLAT inner
product, or HNSW for large corpora, as ``choose_index_type`` decides for FAISS) and so does BM25, through
Milvus's full-text search (a BM25 function over a text field). Milvus Lite's analyzer has no stemmer, so the
field holds the terms our own tokenizer makes (bm25s with English stop words and the Snowball stemmer, as
the FAISS store's BM25 uses) and queries are tokenized the same way; a cluster runs the same field.

A build writes new collections, then switches the one ``<name>_meta`` row that names the current build, then
drops the previous build's collections: a reader sees the old index or the new one, never half of one.
Loading checks the manifest as the folder store does (encoder, dimension, pipeline version, corpus
fingerprint, counts) and raises the same typed errors.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.encoder import Encoder
from embeddings.engine import BuildEngine
from embeddings.errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError, IndexUnavailableError
from embeddings.index import (
    FORMAT_VERSION,
    HNSW_BUILD_DEPTH,
    HNSW_NEIGHBOURS,
    HNSW_SEARCH_DEPTH,
    BuildReport,
    CorpusIndex,
    IndexManifest,
    _versions,
    check_fresh,
    choose_index_type,
    prepare_build,
)

DEFAULT_NAME = "qa"
BATCH = 1_000
DOCUMENT_PIECE_CHARS = 16_000  # a VARCHAR holds at most 65,535 bytes: 16k characters of any UTF-8
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, so both stores rank keywords alike
CURRENT = "current"


def is_milvus_uri(uri: str) -> bool:
    """True for a Milvus Lite file (``*.db``) or a server address (``http(s)://`` or ``tcp://``)."""
    return uri.endswith(".db") or uri.split("://", 1)[0] in ("http", "https", "tcp", "grpc")


def rebuild_hint(uri: str, corpus_dir: str | Path = "corpus") -> str:
    """The command that rebuilds this Milvus index."""
    return f"Rebuild it with: qa index --store milvus --milvus-uri {uri} --corpus {corpus_dir}"


@functools.lru_cache(maxsize=8)
def _client(uri: str) -> Any:
    """One ``MilvusClient`` per URI in this process (Milvus Lite allows one owner of a file)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as error:
        raise IndexUnavailableError(
            'The Milvus store needs the scale extra: pip install -e ".[scale]" (make test installs it).'
        ) from error
    if uri.endswith(".db"):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # Milvus Lite's embedded gRPC server logs every call pymilvus makes that it does not implement
        # (AllocTimestamp), harmlessly; keep those tracebacks out of the user's terminal.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=uri)
    except Exception as error:  # pymilvus raises MilvusException, grpc errors, OSError for a bad file
        raise IndexUnavailableError(f"Milvus at {uri} cannot be reached or opened ({error}).") from error


def _terms(texts: list[str]) -> list[str]:
    """BM25 terms of each text as one space-separated string: bm25s tokens, English stop words out, stemmed."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    return [" ".join(words) for words in tokens]


def _meta_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("value", DataType.VARCHAR, max_length=65_535)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
    return schema


def _chunk_schema(client: Any, dimension: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("position", DataType.INT64, is_primary=True)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1_024)
    schema.add_field("paragraph", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("text_key", DataType.VARCHAR, max_length=64)
    schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
        )
    )
    return schema


def _document_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("position", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1_024)
    schema.add_field("piece", DataType.INT64)
    schema.add_field("payload", DataType.VARCHAR, max_length=65_535)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    return schema


def _flat_index(client: Any, field: str, *, index_type: str = "FLAT", metric: str = "IP", **params: Any) -> Any:
    index_params = client.prepare_index_params()
    index_params.add_index(field, index_type=index_type, metric_type=metric, params=params)
    return index_params


def _load(client: Any, collection: str) -> None:
    """Make a collection searchable: one written by another process (or before a restart) starts released."""
    client.load_collection(collection)


def _read_current(client: Any, name: str) -> dict | None:
    if not client.has_collection(f"{name}_meta"):
        return None
    _load(client, f"{name}_meta")
    rows = client.query(f"{name}_meta", filter=f'key == "{CURRENT}"', output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def build_milvus_index(
    corpus_dir: str | Path,
    uri: str,
    *,
    encoder: Encoder,
    name: str = DEFAULT_NAME,
    progress: bool = False,
    engine: BuildEngine | None = None,
) -> BuildReport:
    """Read, chunk and embed ``corpus_dir`` (reusing the current build's vectors of unchanged chunks) and
    write it to Milvus at ``uri`` as collections ``<name>_chunks_<build>`` and ``<name>_docs_<build>``, then
    make that build current. Raises the corpus errors of ``prepare_build`` and ``IndexUnavailableError``."""
    began = time.perf_counter()
    client = _client(uri)
    current = _read_current(client, name)
    cache = _cached_vectors(client, name, current)
    prepared = prepare_build(corpus_dir, encoder=encoder, cache=cache, progress=progress, engine=engine)
    index_type = choose_index_type(len(prepared.chunks))
    manifest = IndexManifest(
        encoder_id=encoder.encoder_id,
        dimension=encoder.dimension,
        index_type=f"milvus-{index_type}",
        corpus_fingerprint=prepared.fingerprint,
        chunk_count=len(prepared.chunks),
        document_count=len(prepared.documents),
        corpus_dir=str(corpus_dir),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        versions={**_versions(), "store": "milvus"},
        skipped=[dataclasses.asdict(s) for s in prepared.skipped],
    )
    build = f"b{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
    chunks_name, docs_name = f"{name}_chunks_{build}", f"{name}_docs_{build}"
    vector_index = (
        {"index_type": "HNSW", "params": {"M": HNSW_NEIGHBOURS, "efConstruction": HNSW_BUILD_DEPTH}}
        if index_type == "hnsw"
        else {"index_type": "FLAT"}
    )
    index_params = client.prepare_index_params()
    index_params.add_index("vector", metric_type="IP", **vector_index)
    index_params.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
    )
    client.create_collection(chunks_name, schema=_chunk_schema(client, encoder.dimension), index_params=index_params)
    client.create_collection(docs_name, schema=_document_schema(client), index_params=_flat_index(client, "unused"))
    try:
        terms = _terms(prepared.texts)
        rows = [
            {
                "position": position,
                "chunk_id": chunk.chunk_id,
                "doc_id": chunk.doc_id,
                "paragraph": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "text_key": key,
                "terms": term or "_",  # an empty text field is refused; "_" matches no query term
                "vector": vector.tolist(),
            }
            for position, (chunk, key, term, vector) in enumerate(
                zip(prepared.chunks, prepared.keys, terms, prepared.vectors, strict=True)
            )
        ]
        for start in range(0, len(rows), BATCH):
            client.insert(chunks_name, rows[start : start + BATCH])
        pieces: list[dict[str, Any]] = []
        for document in prepared.documents:
            payload = json.dumps(dataclasses.asdict(document), ensure_ascii=False)
            for number, offset in enumerate(range(0, len(payload), DOCUMENT_PIECE_CHARS)):
                pieces.append(
                    {
                        "position": len(pieces),
                        "doc_id": document.doc_id,
                        "piece": number,
                        "payload": payload[offset : offset + DOCUMENT_PIECE_CHARS],
                        "unused": [0.0, 0.0],
                    }
                )
        for start in range(0, len(pieces), BATCH):
            client.insert(docs_name, pieces[start : start + BATCH])
        client.flush(chunks_name)
        client.flush(docs_name)
    except Exception:
        for collection in (chunks_name, docs_name):
            client.drop_collection(collection)
        raise
    if not client.has_collection(f"{name}_meta"):
        client.create_collection(
            f"{name}_meta", schema=_meta_schema(client), index_params=_flat_index(client, "unused")
        )
    value = json.dumps({"build": build, "pieces": len(pieces), "manifest": dataclasses.asdict(manifest)})
    client.upsert(f"{name}_meta", [{"key": CURRENT, "value": value, "unused": [0.0, 0.0]}])
    client.flush(f"{name}_meta")
    if current is not None:  # the previous build is no longer named by the meta row: drop it
        for collection in (f"{name}_chunks_{current['build']}", f"{name}_docs_{current['build']}"):
            if client.has_collection(collection):
                client.drop_collection(collection)
    return BuildReport(
        manifest,
        prepared.embedded,
        len(prepared.chunks) - prepared.embedded,
        tuple(prepared.skipped),
        time.perf_counter() - began,
    )


def _cached_vectors(client: Any, name: str, current: dict | None) -> dict[str, np.ndarray]:
    """The current build's vectors keyed by embedded-text hash (the next build's embedding cache)."""
    if current is None:
        return {}
    collection = f"{name}_chunks_{current['build']}"
    if not client.has_collection(collection):
        return {}
    _load(client, collection)
    rows = _all_rows(client, collection, ["text_key", "vector"], current["manifest"]["chunk_count"])
    return {row["text_key"]: np.asarray(row["vector"], dtype=np.float32) for row in rows}


def _all_rows(client: Any, collection: str, fields: list[str], count: int) -> list[dict]:
    """Every row of a collection keyed by ``position`` 0..count-1, in order, fetched in pages (a query
    returns at most 16,384 rows)."""
    rows: list[dict] = []
    page = 10_000
    for low in range(0, count, page):
        rows.extend(
            client.query(
                collection,
                filter=f"position >= {low} and position < {low + page}",
                output_fields=["position", *fields],
                limit=page,
            )
        )
    return sorted(rows, key=lambda row: row["position"])


def milvus_stamp(uri: str, name: str = DEFAULT_NAME) -> str | None:
    """The current build's id (changes with every build), or None without an index."""
    try:
        current = _read_current(_client(uri), name)
    except Exception:  # unreachable now: the loaded index stays in use
        return None
    return None if current is None else current["build"]


class MilvusCorpusIndex(CorpusIndex):
    """A ``CorpusIndex`` whose dense and keyword searches run in Milvus; documents and chunks (the text the
    reader reads and cites) are held here as for the folder store."""

    uri: str = ""
    collection: str = ""
    searches_keywords = True

    def search_vectors(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk positions) per query row from Milvus; positions are -1 where fewer exist."""
        k = max(1, min(k, len(self.chunks)))
        hits = _client(self.uri).search(
            self.collection,
            data=[row.tolist() for row in np.asarray(query_vectors, dtype=np.float32)],
            anns_field="vector",
            limit=k,
            output_fields=["position"],
            search_params={"metric_type": "IP", "params": {"ef": max(HNSW_SEARCH_DEPTH, k)}},
        )
        scores = np.full((len(hits), k), -np.inf, dtype=np.float32)
        positions = np.full((len(hits), k), -1, dtype=np.int64)
        for row, found in enumerate(hits):
            for rank, hit in enumerate(found[:k]):
                positions[row, rank] = int(hit["position"])
                scores[row, rank] = float(hit["distance"])
        return scores, positions

    def keyword_search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk position, BM25 score) best first for ``question``, by Milvus full-text search
        over the same stemmed terms the FAISS store's BM25 indexes."""
        (terms,) = _terms([question])
        if not terms:
            return []
        (found,) = _client(self.uri).search(
            self.collection,
            data=[terms],
            anns_field="sparse",
            limit=max(1, min(k, len(self.chunks))),
            output_fields=["position"],
            search_params={"metric_type": "BM25"},
        )
        # Milvus Lite reports BM25 as a negated distance, a server as the score: the order is best first in
        # both, and the magnitude is the score.
        return [(int(hit["position"]), abs(float(hit["distance"]))) for hit in found if hit["distance"]]


def load_milvus_index(
    uri: str,
    *,
    encoder_id: str,
    dimension: int,
    corpus_dir: str | Path | None = None,
    name: str = DEFAULT_NAME,
) -> MilvusCorpusIndex:
    """Load the current build at ``uri``: documents and chunks into memory, searches left to Milvus.

    Raises ``IndexNotBuiltError`` (nothing built there), ``IndexMismatchError`` (another encoder or
    dimension), ``StaleIndexError`` (corpus changed; when ``corpus_dir`` is given), ``IndexCorruptError``
    (missing collections, counts that disagree) and ``IndexUnavailableError`` (Milvus cannot be reached)."""
    client = _client(uri)
    hint = rebuild_hint(uri, corpus_dir or "corpus")
    try:
        current = _read_current(client, name)
    except Exception as error:
        raise IndexUnavailableError(f"Milvus at {uri} cannot be queried ({error}).") from error
    if current is None:
        raise IndexNotBuiltError(f"No index in Milvus at {uri}. {hint}")
    known = {f.name for f in dataclasses.fields(IndexManifest)}
    manifest = IndexManifest(**{k: v for k, v in current["manifest"].items() if k in known})
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(f"The Milvus index at {uri} has format {manifest.format_version}. {hint}")
    if manifest.encoder_id != encoder_id or manifest.dimension != dimension:
        raise IndexMismatchError(
            f"The Milvus index at {uri} was built with encoder {manifest.encoder_id!r} (dimension "
            f"{manifest.dimension}), but {encoder_id!r} (dimension {dimension}) is in use. {hint}"
        )
    if corpus_dir is not None:
        check_fresh(manifest, Path(uri), corpus_dir, hint=hint)
    chunks_name, docs_name = f"{name}_chunks_{current['build']}", f"{name}_docs_{current['build']}"
    try:
        _load(client, chunks_name)
        _load(client, docs_name)
        rows = _all_rows(client, chunks_name, ["chunk_id", "doc_id", "paragraph", "start", "end"], manifest.chunk_count)
        pieces = _all_rows(client, docs_name, ["doc_id", "piece", "payload"], current["pieces"])
    except Exception as error:
        raise IndexCorruptError(f"The Milvus index at {uri} is damaged ({error}). {hint}") from error
    payloads: dict[str, list[tuple[int, str]]] = {}
    for piece in pieces:
        payloads.setdefault(piece["doc_id"], []).append((piece["piece"], piece["payload"]))
    try:
        documents = {}
        for doc_id, parts in payloads.items():
            row = json.loads("".join(payload for _, payload in sorted(parts)))
            documents[doc_id] = Document(**{**row, "paragraph_starts": tuple(row["paragraph_starts"])})
    except (ValueError, TypeError, KeyError) as error:
        raise IndexCorruptError(f"The Milvus index at {uri} holds unreadable documents ({error}). {hint}") from error
    chunks = []
    for row in rows:
        document = documents.get(row["doc_id"])
        if document is None:
            raise IndexCorruptError(f"The Milvus index at {uri} has a chunk of an unknown document. {hint}")
        chunks.append(
            Chunk(
                row["chunk_id"],
                row["doc_id"],
                row["paragraph"],
                row["start"],
                row["end"],
                document.text[row["start"] : row["end"]],
            )
        )
    if len(chunks) != manifest.chunk_count or len(documents) != manifest.document_count:
        raise IndexCorruptError(
            f"The Milvus index at {uri} holds {len(chunks)} chunks and {len(documents)} documents; its manifest "
            f"says {manifest.chunk_count} and {manifest.document_count}. {hint}"
        )
    index = MilvusCorpusIndex(manifest, documents, chunks, np.zeros((0, dimension), dtype=np.float32), None)
    index.uri, index.collection = uri, chunks_name
    return index
