"""Documents -> chunks -> vectors -> a saved index; retrieval of scored chunks for a question."""

from embeddings.chunking import Chunk, chunk_document
from embeddings.corpus import corpus_fingerprint, load_corpus
from embeddings.documents import Document, SkippedFile, clean_article
from embeddings.encoder import DEFAULT_ENCODER_ID, Encoder, HashingEncoder, SentenceTransformerEncoder
from embeddings.errors import (
    CorpusError,
    CorpusNotFoundError,
    EmptyCorpusError,
    EncoderMissingError,
    IndexCorruptError,
    IndexLoadError,
    IndexMismatchError,
    IndexNotBuiltError,
    StaleIndexError,
)
from embeddings.index import BuildReport, CorpusIndex, IndexManifest, build_index, load_index, read_manifest
from embeddings.retrieval import MODES, CorpusRetriever, ScoredChunk

__all__ = [
    "DEFAULT_ENCODER_ID",
    "MODES",
    "BuildReport",
    "Chunk",
    "CorpusError",
    "CorpusIndex",
    "CorpusNotFoundError",
    "CorpusRetriever",
    "Document",
    "EmptyCorpusError",
    "Encoder",
    "EncoderMissingError",
    "HashingEncoder",
    "IndexCorruptError",
    "IndexLoadError",
    "IndexManifest",
    "IndexMismatchError",
    "IndexNotBuiltError",
    "ScoredChunk",
    "SentenceTransformerEncoder",
    "SkippedFile",
    "StaleIndexError",
    "build_index",
    "chunk_document",
    "clean_article",
    "corpus_fingerprint",
    "load_corpus",
    "load_index",
    "read_manifest",
]
