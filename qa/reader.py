"""The extractive reader: a question and passages in, ranked answer spans with character offsets out.

Every passage is tokenised into overlapping windows (stride), all windows of all passages run through
the model in batches under ``torch.inference_mode()``, and each window's logits are decoded with
``best_token_spans`` (end >= start, maximum answer length). Scores are raw logit sums (start + end),
never softmaxed per passage, so spans from different passages compare directly; each passage also gets
a no-answer score (the lowest [CLS] score over its windows, as in the SQuAD 2.0 reference decoders).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from qa.defaults import DEFAULT_READER_DIR
from qa.errors import ReaderModelMismatchError, ReaderModelMissingError
from qa.span_decoding import SpanCandidate, WindowLogits, decode_windows

ONNX_INT8_FILE = "model_int8.onnx"
BACKENDS = ("fp32", "int8", "onnx-int8")


@dataclass(frozen=True)
class _Pair:
    """One passage of one item of ``read_many``, with the header line read before it."""

    item: int
    passage_index: int
    question: str
    passage: str
    prefix: str


@dataclass(frozen=True)
class ReaderCalibration:
    """How raw margins become decisions: answer when ``margin > threshold``; confidence =
    sigmoid(slope * margin + intercept). Fitted on held-out SQuAD train articles (see MODEL_CARD.md).
    ``passage_header``: the fit read each passage under its article's title line, so callers should too.
    ``backend``: the inference backend the margins were measured with, which ``ReaderModel`` uses by default."""

    threshold: float = 0.0
    slope: float = 1.0
    intercept: float = 0.0
    passage_header: bool = False
    backend: str = "fp32"

    def confidence(self, margin: float) -> float:
        """Probability-like confidence in [0, 1] that an answer with this margin is right."""
        z = self.slope * margin + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@functools.lru_cache(maxsize=4)
def _load_model(model_dir: str, backend: str, threads: int):
    """Load tokenizer and model once per (folder, backend, threads); later calls reuse them."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoTokenizer, BertForQuestionAnswering

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if backend == "onnx-int8":
        return tokenizer, _OnnxReader(Path(model_dir) / ONNX_INT8_FILE, threads)
    model = BertForQuestionAnswering.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    model.eval()
    if backend == "int8":
        # Only the feed-forward layers (two thirds of the weights) are quantised: attention projections
        # and the span head stay fp32, where int8 rounding costs the most accuracy.
        feed_forward = {
            name: torch.ao.quantization.default_dynamic_qconfig
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear)
            and (name.endswith("intermediate.dense") or (name.endswith("output.dense") and ".attention." not in name))
        }
        model = torch.ao.quantization.quantize_dynamic(model, feed_forward, dtype=torch.qint8)
    elif backend != "fp32":
        raise ValueError(f"unknown reader backend {backend!r}; use one of {', '.join(BACKENDS)}")
    return tokenizer, model


class _OnnxReader:
    """The exported reader run by ONNX Runtime (``model_int8.onnx``: int8 per-channel weights), called
    like the torch model: ``model(input_ids=..., token_type_ids=..., attention_mask=...)``.

    Each window runs alone, without padding: dynamic quantisation scales activations by the range of the
    whole input, so a batch would make one passage's scores depend on the others read with it.
    """

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime
        from transformers import AutoConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = AutoConfig.from_pretrained(path.parent, local_files_only=True)

    def __call__(self, *, input_ids, token_type_ids, attention_mask):
        import torch

        start = np.full(tuple(input_ids.shape), -1e4, dtype=np.float32)
        end = start.copy()
        for row, length in enumerate(attention_mask.sum(dim=1).tolist()):
            feeds = {
                "input_ids": input_ids[row : row + 1, :length].numpy(),
                "token_type_ids": token_type_ids[row : row + 1, :length].numpy(),
                "attention_mask": attention_mask[row : row + 1, :length].numpy(),
            }
            (start[row, :length],), (end[row, :length],) = self.session.run(["start_logits", "end_logits"], feeds)
        return SimpleNamespace(start_logits=torch.from_numpy(start), end_logits=torch.from_numpy(end))


@functools.lru_cache(maxsize=8)
def _read_calibration(model_dir: Path) -> ReaderCalibration:
    """Read ``calibration.json`` once per model folder (it is consulted on every question)."""
    path = model_dir / "calibration.json"
    if not path.exists():
        return ReaderCalibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    return ReaderCalibration(
        float(data["threshold"]),
        float(data["slope"]),
        float(data["intercept"]),
        bool(data.get("passage_header", False)),
        str(data.get("backend", "fp32")),
    )


class Reader(Protocol):
    """What answer building needs from a reader: ``ReaderModel``, or a test double."""

    @property
    def calibration(self) -> ReaderCalibration: ...

    def load(self) -> object: ...

    def read(
        self,
        question: str,
        passages: Sequence[str],
        *,
        headers: Sequence[str] | None = None,
        n_best: int | None = None,
    ) -> list[SpanCandidate]: ...


class ReaderModel:
    """The shipped extractive QA model. Construction is cheap; weights load on first use, once."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        backend: str | None = None,
        max_length: int = 384,
        stride: int = 128,
        max_answer_tokens: int = 30,
        n_best: int = 5,
        batch_size: int = 16,
        threads: int | None = None,
        max_question_tokens: int = 64,
    ) -> None:
        if max_length - max_question_tokens - 3 <= stride:
            raise ValueError("max_length must leave more than `stride` tokens for the passage")
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_READER_DIR
        # By default, the backend the shipped threshold was calibrated with (calibration.json).
        self.backend = backend if backend is not None else _read_calibration(self.model_dir).backend
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown reader backend {self.backend!r}; use one of {', '.join(BACKENDS)}")
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.n_best = n_best
        self.batch_size = batch_size
        self.max_question_tokens = max_question_tokens
        self.threads = threads if threads is not None else max(1, min(4, os.cpu_count() or 1))
        self._lock = threading.Lock()

    def _check_files(self) -> None:
        weights = ONNX_INT8_FILE if self.backend == "onnx-int8" else "model.safetensors"
        missing = [n for n in ("config.json", "tokenizer.json", weights) if not (self.model_dir / n).exists()]
        if missing:
            raise ReaderModelMissingError(
                f"The reader model is missing from {self.model_dir} ({', '.join(missing)}). "
                "Restore models/reader/ from the repository (git checkout -- models/reader) or retrain it: "
                "python -m training.train_reader, then python -m training.export_reader"
            )

    def load(self) -> tuple[Any, Any]:
        """Load (or fetch from cache) the tokenizer and model. Raises ``ReaderModelMissingError`` when files
        are missing and ``ReaderModelMismatchError`` when tokenizer and weights do not belong together."""
        self._check_files()
        tokenizer, model = _load_model(str(self.model_dir), self.backend, self.threads)
        if len(tokenizer) != model.config.vocab_size:
            raise ReaderModelMismatchError(
                f"The reader tokenizer in {self.model_dir} has {len(tokenizer)} tokens but the model expects "
                f"{model.config.vocab_size}: the files do not belong together. Restore models/reader/ from git."
            )
        return tokenizer, model

    @property
    def calibration(self) -> ReaderCalibration:
        """The no-answer threshold and confidence mapping shipped beside the weights."""
        return _read_calibration(self.model_dir)

    def read(
        self,
        question: str,
        passages: Sequence[str],
        *,
        headers: Sequence[str] | None = None,
        n_best: int | None = None,
    ) -> list[SpanCandidate]:
        """Return the best spans over all ``passages``, best first (up to ``n_best`` per passage).

        ``headers`` (one per passage, optional) is context the model reads on a line before its passage,
        such as the article's title and date, but never answers from: spans and offsets are in the passage.
        Every candidate carries its passage's no-answer score; a passage with no valid span contributes
        nothing. Raises ``ReaderModelMissingError`` when the weights are missing.
        """
        return self.read_many([(question, passages, headers)], n_best=n_best)[0]

    def read_many(
        self,
        items: Sequence[tuple[str, Sequence[str]] | tuple[str, Sequence[str], Sequence[str] | None]],
        *,
        n_best: int | None = None,
    ) -> list[list[SpanCandidate]]:
        """``read`` for several ``(question, passages)`` or ``(question, passages, headers)`` items at once,
        batching all their windows together. Returns one candidate list per item, best first."""
        n_best = self.n_best if n_best is None else n_best
        results: list[list[SpanCandidate]] = [[] for _ in items]
        if not any(item[0].strip() and item[1] for item in items):
            return results
        tokenizer, model = self.load()
        pairs = self._pairs(tokenizer, items)
        if not pairs:
            return results
        windows = self._windows(tokenizer, model, pairs)
        passages = [pair.passage for pair in pairs]
        per_pair = decode_windows(
            windows,
            passages,
            [len(pair.prefix) for pair in pairs],
            max_answer_tokens=self.max_answer_tokens,
            n_best=n_best,
        )
        for pair, candidates in zip(pairs, per_pair, strict=True):
            results[pair.item].extend(dataclasses.replace(c, passage_index=pair.passage_index) for c in candidates)
        for candidates in results:
            candidates.sort(key=lambda c: (-c.score, c.passage_index, c.start))
        return results

    def _pairs(self, tokenizer: Any, items: Sequence[tuple]) -> list[_Pair]:
        """One (question, passage, header prefix) pair per passage of every item with a question."""
        pairs = []
        for item, (question, passages, *rest) in enumerate(items):
            if not question.strip():
                continue
            question = self._truncate_question(tokenizer, question.strip())
            headers = rest[0] if rest and rest[0] is not None else [""] * len(passages)
            if len(headers) != len(passages):
                raise ValueError("give one header per passage")
            for passage_index, (passage, header) in enumerate(zip(passages, headers, strict=True)):
                prefix = f"{header.strip()}\n" if header.strip() else ""  # read, never answered from
                pairs.append(_Pair(item, passage_index, question, passage, prefix))
        return pairs

    def _windows(self, tokenizer: Any, model: Any, pairs: list[_Pair]) -> list[WindowLogits]:
        """Tokenise every pair into stride windows and run them through the model, shortest first in
        batches (less padding); returns each window's logits with its offsets."""
        import torch

        encoded = tokenizer(
            [pair.question for pair in pairs],
            [pair.prefix + pair.passage for pair in pairs],
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        input_ids = encoded["input_ids"]
        order = sorted(range(len(input_ids)), key=lambda i: len(input_ids[i]))
        logits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        with self._lock, torch.inference_mode():
            for offset in range(0, len(order), self.batch_size):
                batch = order[offset : offset + self.batch_size]
                width = max(len(input_ids[i]) for i in batch)
                ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
                types = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(input_ids[i])
                    ids[row, :n] = torch.tensor(input_ids[i])
                    types[row, :n] = torch.tensor(encoded["token_type_ids"][i])
                    mask[row, :n] = 1
                output = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
                starts, ends = output.start_logits.float().numpy(), output.end_logits.float().numpy()
                for row, i in enumerate(batch):
                    n = len(input_ids[i])
                    logits[i] = (starts[row, :n], ends[row, :n])
        return [
            WindowLogits(
                encoded["overflow_to_sample_mapping"][i],
                encoded["offset_mapping"][i],
                encoded.sequence_ids(i),
                *logits[i],
            )
            for i in range(len(input_ids))
        ]

    def _truncate_question(self, tokenizer, question: str) -> str:
        """Cut a question to ``max_question_tokens`` word pieces (at a character boundary), so that every
        window keeps room for the passage and the stride (as the SQuAD reference code caps query length)."""
        encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]
