"""Building an index with Ray Data: the corpus files are read, cleaned and chunked by Ray tasks, and the
passages embedded by a pool of actors, each holding one copy of the encoder. On a laptop Ray runs locally
(one actor per core, one torch thread each); with ``address`` the same code runs on a Ray cluster, whose
workers must see the corpus folder at the same path (a shared file system) and have this project installed.

``qa index --engine ray [--ray-address ADDR]`` uses it. It follows ``embeddings.engine``'s contract, so the
chunks and vectors are the same as a local build's, bit for bit: files come back in the order given, and
every block of ``EMBED_BLOCK`` passages is embedded by one actor call, as the local engine embeds it. The
chunks come back to the driver, which writes the chosen store (the FAISS folder or Milvus): the manifest,
the keyword index and the chunk list need them all in one place."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.engine import FileRead, blocks, read_and_chunk

READ_BATCH = 16  # files a reading task handles per call, at most


def _start(address: str | None, actors: int) -> Any:
    import ray

    if not ray.is_initialized():
        # A local run gets exactly the cores asked for; a cluster address brings its own resources.
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address is None:
            options["num_cpus"] = actors
        ray.init(address=address, **options)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build shows its own bars
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def _read_files(batch: dict[str, np.ndarray], root: str) -> dict[str, np.ndarray]:
    """A Ray task: read and chunk a batch of corpus files (``embeddings.engine.read_and_chunk``)."""
    reads = [read_and_chunk(Path(str(path)), Path(root)) for path in batch["path"]]
    return {"position": batch["position"], "read": np.array([pickle.dumps(read) for read in reads], dtype=object)}


class _Embedder:
    """A Ray actor: loads the encoder once, embeds one block of passages per call with one torch thread."""

    def __init__(self) -> None:
        import torch

        from embeddings.encoder import SentenceTransformerEncoder

        torch.set_num_threads(1)  # one core per actor: the pool, not torch, spreads the work
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.encoder = SentenceTransformerEncoder()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        (start,), (texts,) = batch["start"], batch["texts"]
        vectors = self.encoder.encode_documents([str(text) for text in texts], show_progress=False)
        return {"position": np.arange(int(start), int(start) + len(vectors)), "vector": vectors}


class RayEngine:
    """Reads, chunks and embeds on Ray: tasks for the files, an actor pool of ``actors`` encoders (default:
    the cores here; on a cluster pass as many as it has cores to spare) for the passages."""

    name = "ray"

    def __init__(self, *, address: str | None = None, actors: int | None = None) -> None:
        self.address = address
        self.actors = actors or os.cpu_count() or 1

    def read(self, root: Path, files: list[Path], *, progress: bool = False) -> list[FileRead]:
        if not files:
            return []
        ray = _start(self.address, self.actors)
        items = [{"position": i, "path": str(path)} for i, path in enumerate(files)]
        # Blocks of at most READ_BATCH files, and at least a few per actor so every core gets some.
        count = min(len(items), max(4 * self.actors, -(-len(items) // READ_BATCH)))
        dataset = ray.data.from_items(items, override_num_blocks=count)
        read = dataset.map_batches(
            _read_files, fn_kwargs={"root": str(root)}, batch_size=None, num_cpus=1, batch_format="numpy"
        )
        results: list[FileRead | None] = [None] * len(files)
        for batch in _bar(read, len(files), "reading", "file", progress, "position"):
            for position, payload in zip(batch["position"], batch["read"], strict=True):
                results[int(position)] = pickle.loads(payload)  # made by our own task just above
        missing = [str(files[i]) for i, result in enumerate(results) if result is None]
        if missing:
            raise RuntimeError(f"Ray returned no result for {len(missing)} files, e.g. {missing[0]}")
        return [result for result in results if result is not None]

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        ray = _start(self.address, self.actors)
        items = [{"start": start, "texts": texts[start:end]} for start, end in blocks(len(texts))]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        pool = ray.data.ActorPoolStrategy(size=self.actors)
        embedded = dataset.map_batches(_Embedder, batch_size=1, compute=pool, num_cpus=1, batch_format="numpy")
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        filled = np.zeros(len(texts), dtype=bool)
        for batch in _bar(embedded, len(texts), "embedding", "passage", progress, "position"):
            if vectors.shape[1] == 0:
                vectors = np.zeros((len(texts), batch["vector"].shape[1]), dtype=np.float32)
            vectors[batch["position"]] = batch["vector"]
            filled[batch["position"]] = True
        if not filled.all():
            raise RuntimeError(f"Ray returned no vector for {int((~filled).sum())} passages")
        return vectors


def _bar(dataset: Any, total: int, what: str, unit: str, progress: bool, column: str) -> Any:
    """The dataset's batches, counted on a progress bar (on a terminal) when ``progress``."""
    batches = dataset.iter_batches(batch_size=None, batch_format="numpy")
    if not progress:
        yield from batches
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=what, unit=unit, disable=None, leave=False) as bar:
        for batch in batches:
            bar.update(len(batch[column]))
            yield batch


__all__ = ["RayEngine"]
