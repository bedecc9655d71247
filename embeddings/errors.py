"""Typed errors of the indexing layer; each message says what to do next."""

from __future__ import annotations


class IndexLoadError(Exception):
    """Base class: the saved index cannot be used as it is."""


class IndexNotBuiltError(IndexLoadError):
    """No index exists at the given path."""


class IndexCorruptError(IndexLoadError):
    """The index folder is damaged (truncated, edited, unreadable)."""


class IndexMismatchError(IndexLoadError):
    """The index was built with another encoder or dimension than the one in use."""


class IndexUnavailableError(IndexLoadError):
    """The index's store (a Milvus server, the optional Milvus packages) cannot be reached or used."""


class StaleIndexError(IndexLoadError):
    """The corpus (or the ingestion code) changed since the index was built."""


class CorpusError(Exception):
    """Base class: the corpus folder cannot be indexed."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """The corpus folder does not exist."""


class EmptyCorpusError(CorpusError, ValueError):
    """The corpus folder holds no readable document."""


class FileRejectedError(CorpusError, ValueError):
    """A file offered for the corpus was refused (too large, unsupported, unreadable); nothing was written."""


class CorpusFileNotFoundError(CorpusError, LookupError):
    """No such file in the corpus folder (or a path pointing outside it)."""


class EncoderMissingError(Exception):
    """The sentence-embedding model files cannot be found."""


class BuildEngineError(Exception):
    """The engine a build runs on (Ray) is not installed, cannot start, or lost part of the work."""


REBUILD_HINT = "Rebuild it with: qa index --corpus {corpus} --index {index}"
