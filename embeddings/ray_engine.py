"""Embedding a large corpus with Ray Data: the passages go through a pool of actors, each holding one copy of
the encoder. On a laptop Ray runs locally (one actor per core, one torch thread each); with ``address`` the
same code runs on a Ray cluster.

``qa index --engine ray [--ray-address ADDR]`` uses it; the vectors it returns are the encoder's, written to
whichever store the build writes (the FAISS folder or Milvus). Reading and chunking stay in the driver: they
take seconds where embedding takes the hour (27,901 SQuAD passages: 6 s against about 30 minutes)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

BATCH = 256  # passages an actor embeds per call


def _start(address: str | None, actors: int) -> Any:
    import ray

    if not ray.is_initialized():
        # A local run gets exactly the cores asked for; a cluster address brings its own resources.
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address is None:
            options["num_cpus"] = actors
        ray.init(address=address, **options)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build prints its own summary
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


class _Embedder:
    """A Ray actor: loads the encoder once, embeds batches of passages with one torch thread."""

    def __init__(self) -> None:
        import torch

        from embeddings.encoder import SentenceTransformerEncoder

        torch.set_num_threads(1)  # one core per actor: the pool, not torch, spreads the work
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.encoder = SentenceTransformerEncoder()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_documents([str(text) for text in batch["text"]], show_progress=False)
        return {"position": batch["position"], "vector": vectors}


def ray_embedder(*, address: str | None = None, actors: int | None = None) -> Callable[[list[str]], np.ndarray]:
    """A function that embeds passages with a Ray Data actor pool (``actors`` of them, default: the cores
    here, or 2 per node on a cluster) and returns the vectors in input order."""
    size = actors or os.cpu_count() or 1

    def embed(texts: list[str]) -> np.ndarray:
        ray = _start(address, size)
        items = [{"position": i, "text": text} for i, text in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // BATCH))
        embedded = dataset.map_batches(_Embedder, batch_size=BATCH, concurrency=size, num_cpus=1, batch_format="numpy")
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            if vectors.shape[1] == 0:
                vectors = np.zeros((len(texts), batch["vector"].shape[1]), dtype=np.float32)
            vectors[batch["position"]] = batch["vector"]
        return vectors

    return embed


__all__ = ["ray_embedder"]
