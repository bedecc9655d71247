"""One home for the defaults that the library, the command line, the page and the eval share.

Paths are read from the environment when they are asked for (never at import), so a process that sets
``QA_INDEX`` or ``QA_CORPUS`` before its first question is honoured.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_READER_DIR = PROJECT_ROOT / "models" / "reader"
# A second reader that re-reads the windows of a question the first reader is unsure of (``qa.pipeline``);
# used by default when this folder holds one.
DEFAULT_REREADER_DIR = PROJECT_ROOT / "models" / "rereader"

DEFAULT_TOP_K = 5  # passages retrieved and read per question
DEFAULT_MODE = "hybrid"  # one of embeddings.retrieval.MODES
MAX_TOP_K = 20  # the most passages the page and the command line offer to read


def default_index_dir() -> Path:
    """``$QA_INDEX`` if set, else ``index/`` in the project folder."""
    return Path(os.environ.get("QA_INDEX") or PROJECT_ROOT / "index")


def default_corpus_dir() -> Path:
    """``$QA_CORPUS`` if set, else ``corpus/`` in the project folder."""
    return Path(os.environ.get("QA_CORPUS") or PROJECT_ROOT / "corpus")


STORES = ("faiss", "milvus")


def default_store() -> str:
    """``$QA_STORE`` ("faiss", the index folder, or "milvus") if set, else "faiss"."""
    return os.environ.get("QA_STORE") or "faiss"


def default_milvus_uri() -> str:
    """``$QA_MILVUS_URI`` if set, else a Milvus Lite file in the project folder (``index-milvus/qa.db``)."""
    return os.environ.get("QA_MILVUS_URI") or str(PROJECT_ROOT / "index-milvus" / "qa.db")
