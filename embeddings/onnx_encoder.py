"""The query side of all-MiniLM-L6-v2 as an ONNX Runtime graph, so answering a question never imports torch.

``export_query_graph`` (run by ``qa index``, needs torch once) writes the packaged sentence-transformers
model as one fp32 graph that tokens go into and the mean-pooled, L2-normalised sentence vector comes out
of, checked against sentence-transformers on sample texts before it is kept. ``OnnxQueryGraph`` runs it
with the ``tokenizers`` library; its vectors equal the torch ones to float rounding (the manifest records
the largest difference measured), so an index built with sentence-transformers is searched unchanged.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.index import replace_folder

GRAPH_FILE = "query_encoder.onnx"
MANIFEST_FILE = "manifest.json"
DEFAULT_GRAPH_DIR = Path(__file__).resolve().parent.parent / "models" / "encoder"
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (sentence_bert_config.json); tokenizer.json
# itself says 128 and pads, which sentence-transformers overrides.
MAX_TOKENS = 256
# The exported graph is kept only when it reproduces sentence-transformers this closely.
MAX_EXPORT_DIFFERENCE = 1e-4
CHECK_TEXTS = (
    "How many Hellfire missiles were sold to Iraq?",
    "Who is the Turkish foreign minister?",
    "The Pentagon announced on Thursday that the State Department had approved the sale of 5,000 missiles.",
    "  leading and trailing spaces  ",
    "x",
)


def source_signature(model_dir: Path) -> dict[str, object]:
    """What the exported graph was made from: the source folder and its weights' size and modification time
    (cheap to compare at every start; a reinstalled package changes them)."""
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    return {"model_dir": str(model_dir), "weights_bytes": stat.st_size, "weights_mtime_ns": stat.st_mtime_ns}


def graph_is_current(model_dir: Path, graph_dir: Path = DEFAULT_GRAPH_DIR) -> bool:
    """True when ``graph_dir`` holds a graph exported from ``model_dir`` as it is now."""
    try:
        manifest = json.loads((graph_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return (graph_dir / GRAPH_FILE).exists() and manifest.get("source") == source_signature(model_dir)
    except (OSError, ValueError):
        return False


def export_query_graph(model_dir: Path, graph_dir: Path = DEFAULT_GRAPH_DIR) -> Path:
    """Export the sentence-transformers model in ``model_dir`` to ``graph_dir/query_encoder.onnx``.

    The graph is written into a temporary folder, checked against sentence-transformers on
    ``CHECK_TEXTS`` (raises ``RuntimeError`` when any vector differs by more than
    ``MAX_EXPORT_DIFFERENCE``), then moved into place, so a failed export leaves the previous one whole.
    Needs torch and sentence-transformers. Returns the graph's path.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    bert: Any = model[0].auto_model
    bert.eval()

    class PooledEncoder(torch.nn.Module):
        """Tokens in, the mean-pooled (over real tokens) and L2-normalised sentence vector out."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    graph_dir.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=graph_dir.parent, prefix=".encoder-tmp-") as tmp:
        staging = Path(tmp) / "graph"
        staging.mkdir()
        names = ["input_ids", "attention_mask", "token_type_ids"]
        example = torch.ones((1, 16), dtype=torch.long)
        with warnings.catch_warnings():  # the tracer's notes on shape-dependent Python branches in BERT
            warnings.simplefilter("ignore")
            torch.onnx.export(
                PooledEncoder(bert),
                (example, example, torch.zeros_like(example)),
                str(staging / GRAPH_FILE),
                input_names=names,
                output_names=["sentence_embedding"],
                opset_version=17,
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}},
                dynamo=False,
            )
        shutil.copyfile(model_dir / "tokenizer.json", staging / "tokenizer.json")
        expected = model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
        actual = OnnxQueryGraph(staging, threads=1).encode(list(CHECK_TEXTS))
        difference = float(np.abs(expected - actual).max())
        if difference > MAX_EXPORT_DIFFERENCE:
            raise RuntimeError(f"the exported query encoder differs from sentence-transformers by {difference:.2e}")
        manifest = {
            "source": source_signature(model_dir),
            "max_abs_difference_vs_sentence_transformers": difference,
            "max_tokens": MAX_TOKENS,
            "torch": torch.__version__,
            "export_seconds": round(time.perf_counter() - began, 1),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        replace_folder(staging, graph_dir)
    return graph_dir / GRAPH_FILE


def onnx_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads that sleep when idle.

    Every session has its own thread pool, and by default its threads spin for a while after each run: the
    query encoder's spinning threads then take the two cores the reader's run needs next (measured: the
    reader's forward pass took twice as long). Not spinning costs a single session about 1 ms a run.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxQueryGraph:
    """The exported query encoder, run by ONNX Runtime: texts in, float32 unit vectors out.

    Each text runs alone, without padding, so a vector never depends on the texts encoded with it.
    """

    def __init__(self, graph_dir: Path, *, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        threads = threads if threads is not None else max(1, min(4, os.cpu_count() or 1))
        self.session = onnx_session(graph_dir / GRAPH_FILE, threads)
        self.tokenizer = Tokenizer.from_file(str(graph_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text (sentence-transformers strips each text before tokenising)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        for row, encoding in enumerate(encodings):
            feeds = {
                "input_ids": np.asarray([encoding.ids], dtype=np.int64),
                "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
            }
            vectors[row] = self.session.run(None, feeds)[0][0]
        return vectors


@functools.lru_cache(maxsize=4)
def load_query_graph(graph_dir: str) -> OnnxQueryGraph:
    """The graph in ``graph_dir``, loaded once per folder."""
    return OnnxQueryGraph(Path(graph_dir))
