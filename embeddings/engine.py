"""Where an index build reads, chunks and embeds: in this process (``LocalEngine``, the default) or on a Ray
cluster (``embeddings.ray_engine.RayEngine``, ``qa index --engine ray``). Both follow the same contract, so
a build gives the same chunks and **bit-identical vectors** on either:

- ``read`` turns each corpus file into its documents, skipped items and chunks (``read_and_chunk``: pure,
  one file at a time) and returns them in the order of the files given;
- ``embed`` embeds passages in the blocks ``embedding_blocks`` deals them into (longest first, then cut into
  ``EMBED_BLOCK``s, so a block's passages are of like length and pad little), each block in one encoder
  call. A passage's vector depends on which passages share its padded batch (float rounding differs with
  the padded length), so fixing the blocks fixes the vectors whichever process embeds a block. Checked on
  this machine: the same block gives the same bits with 1 and with 2 torch threads; machines with
  different CPU instruction sets may still differ in the last bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from embeddings.chunking import Chunk, chunk_document
from embeddings.corpus import read_corpus_file
from embeddings.documents import Document, SkippedFile
from embeddings.encoder import Encoder

EMBED_BLOCK = 256  # passages per encoder call; changing it changes vectors in the last float bits


@dataclass(frozen=True)
class FileRead:
    """One corpus file read, cleaned and chunked."""

    documents: list[Document]
    skipped: list[SkippedFile]
    chunks: list[Chunk]


def read_and_chunk(path: Path, root: Path) -> FileRead:
    """``path`` (inside the corpus folder ``root``) read as ``embeddings.corpus.read_corpus_file`` does, and its
    documents chunked as the index chunks them."""
    documents, skipped = read_corpus_file(path, root)
    return FileRead(documents, skipped, [chunk for document in documents for chunk in chunk_document(document)])


def embedding_blocks(texts: list[str]) -> list[list[int]]:
    """Which texts (by position) each encoder call embeds: all of them ordered longest first (ties in input
    order), cut into blocks of ``EMBED_BLOCK``. Deterministic, so every engine makes the same calls."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[start : start + EMBED_BLOCK] for start in range(0, len(order), EMBED_BLOCK)]


class BuildEngine(Protocol):
    """What a build needs done, wherever it runs (see the module's contract)."""

    def read(self, root: Path, files: list[Path], *, progress: bool = False) -> list[FileRead]: ...

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


class LocalEngine:
    """Reads, chunks and embeds in this process, with the encoder given."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def read(self, root: Path, files: list[Path], *, progress: bool = False) -> list[FileRead]:
        if progress:
            from tqdm import tqdm

            files = tqdm(files, desc="reading", unit="file", disable=None, leave=False)
        return [read_and_chunk(path, root) for path in files]

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage", disable=None, leave=False)
        for block in embedding_blocks(texts):
            vectors[block] = self.encoder.encode_documents([texts[i] for i in block], show_progress=False)
            if bar is not None:
                bar.update(len(block))
        if bar is not None:
            bar.close()
        return vectors


__all__ = ["EMBED_BLOCK", "BuildEngine", "FileRead", "LocalEngine", "embedding_blocks", "read_and_chunk"]
