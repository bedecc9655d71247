"""Building an index with Ray Data: the corpus files are read, cleaned and chunked by Ray tasks, and the
passages embedded by a pool of actors, each holding one copy of the encoder. On a laptop Ray runs locally
(one actor per core, one torch thread each); with ``address`` the same code runs on a Ray cluster, whose
workers must see the corpus folder at the same path (a shared file system) and have this project installed.

``qa index --engine ray [--ray-address ADDR]`` uses it. It follows ``embeddings.engine``'s contract, so the
chunks and vectors are the same as a local build's, bit for bit: files come back in the order given, and
every block of passages (``embeddings.engine.embedding_blocks``) is embedded by one actor call, as the local
engine embeds it, with the build's own encoder settings. The chunks come back to the driver, which writes
the chosen store (the FAISS folder or Milvus): the manifest, the keyword index and the chunk list need them
all in one place."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import SentenceTransformerEncoder
from embeddings.engine import FileRead, embedding_blocks, read_and_chunk
from embeddings.errors import BuildEngineError

READ_FILES = 16  # files one reading call handles, at most
READ_BYTES = 64_000_000  # bytes one reading call handles, at most (a larger file goes alone)


def _start(address: str | None, actors: int) -> Any:
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise BuildEngineError(
            'The Ray engine needs the scale extra: pip install -e ".[scale]" (or build with --engine local)'
        ) from error
    if not ray.is_initialized():
        # A local run gets exactly the cores asked for; a cluster address brings its own resources.
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address is None:
            options["num_cpus"] = actors
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise BuildEngineError(f"Ray could not start{f' at {address}' if address else ''}: {error}") from error
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build shows its own bars
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def read_groups(files: list[Path]) -> list[list[int]]:
    """Positions of ``files`` in consecutive groups of at most ``READ_FILES`` files and ``READ_BYTES`` bytes
    (one larger file makes a group alone): what one reading call gets."""
    groups: list[list[int]] = []
    size = 0
    for position, path in enumerate(files):
        try:
            length = path.stat().st_size
        except OSError:
            length = 0  # reading it will say why
        if not groups or len(groups[-1]) >= READ_FILES or size + length > READ_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(position)
        size += length
    return groups


def _read_files(batch: dict[str, np.ndarray], root: str) -> dict[str, np.ndarray]:
    """A Ray task: read and chunk one group of corpus files (``embeddings.engine.read_and_chunk``)."""
    (positions,), (paths,) = batch["positions"], batch["paths"]
    reads = [read_and_chunk(Path(str(path)), Path(root)) for path in paths]
    return {
        "position": np.asarray(positions, dtype=np.int64),
        "read": np.array([pickle.dumps(read) for read in reads], dtype=object),
    }


class _Embedder:
    """A Ray actor: loads the encoder once, embeds one block of passages per call with one torch thread."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import torch

        from embeddings.encoder import SentenceTransformerEncoder

        torch.set_num_threads(1)  # one core per actor: the pool, not torch, spreads the work
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.encoder = SentenceTransformerEncoder(**settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        (rows,), (texts,) = batch["rows"], batch["texts"]
        vectors = self.encoder.encode_documents([str(text) for text in texts], show_progress=False)
        return {"position": np.asarray(rows, dtype=np.int64), "vector": vectors}


class RayEngine:
    """Reads, chunks and embeds on Ray with ``encoder``'s model and settings: tasks for the files, an actor
    pool of ``actors`` encoders (default: the cores here; on a cluster, as many as it has cores to spare)
    for the passages. Raises ``BuildEngineError`` when Ray is missing, cannot start or loses work."""

    def __init__(
        self, encoder: SentenceTransformerEncoder, *, address: str | None = None, actors: int | None = None
    ) -> None:
        self.address = address
        self.actors = actors or os.cpu_count() or 1
        self.dimension = encoder.dimension
        self.settings = {
            "model_dir": str(encoder.model_dir) if encoder.model_dir is not None else None,
            "encoder_id": encoder.encoder_id,
            "device": "cpu",
            "batch_size": encoder.batch_size,
            "dimension": encoder.dimension,
        }

    def read(self, root: Path, files: list[Path], *, progress: bool = False) -> list[FileRead]:
        if not files:
            return []
        ray = _start(self.address, self.actors)
        items = [{"positions": group, "paths": [str(files[i]) for i in group]} for group in read_groups(files)]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        read = dataset.map_batches(
            _read_files, fn_kwargs={"root": str(root)}, batch_size=1, num_cpus=1, batch_format="numpy"
        )
        results: list[FileRead | None] = [None] * len(files)
        for batch in _bar(read, len(files), "reading", "file", progress):
            for position, payload in zip(batch["position"], batch["read"], strict=True):
                results[int(position)] = pickle.loads(payload)  # made by our own task just above
        missing = [str(files[i]) for i, result in enumerate(results) if result is None]
        if missing:
            raise BuildEngineError(f"Ray returned nothing for {len(missing)} files, e.g. {missing[0]}; build again")
        return [result for result in results if result is not None]

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        ray = _start(self.address, self.actors)
        items = [{"rows": block, "texts": [texts[i] for i in block]} for block in embedding_blocks(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        pool = ray.data.ActorPoolStrategy(size=self.actors)
        embedded = dataset.map_batches(
            _Embedder,
            fn_constructor_kwargs={"settings": self.settings},
            batch_size=1,
            compute=pool,
            num_cpus=1,
            batch_format="numpy",
        )
        filled = np.zeros(len(texts), dtype=bool)
        for batch in _bar(embedded, len(texts), "embedding", "passage", progress):
            vectors[batch["position"]] = batch["vector"]
            filled[batch["position"]] = True
        if not filled.all():
            raise BuildEngineError(f"Ray returned no vector for {int((~filled).sum())} passages; build again")
        return vectors


def _bar(dataset: Any, total: int, what: str, unit: str, progress: bool) -> Any:
    """The dataset's batches, counted on a progress bar (on a terminal) when ``progress``."""
    batches = dataset.iter_batches(batch_size=None, batch_format="numpy")
    if not progress:
        yield from batches
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=what, unit=unit, disable=None, leave=False) as bar:
        for batch in batches:
            bar.update(len(batch["position"]))
            yield batch


__all__ = ["RayEngine", "read_groups"]
