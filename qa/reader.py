"""The extractive reader: a question and passages in, ranked answer spans with character offsets out.

Every passage is tokenised into overlapping windows (stride), all windows of all passages run through
the model in batches under ``torch.inference_mode()``, and each window's logits are decoded with
``best_token_spans`` (end >= start, maximum answer length). Scores are raw logit sums (start + end),
never softmaxed per passage, so spans from different passages compare directly; each passage also gets
a no-answer score (the lowest [CLS] score over its windows, as in the SQuAD 2.0 reference decoders).
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from qa.errors import ReaderModelMissingError
from qa.span_decoding import best_token_spans, null_score

DEFAULT_READER_DIR = Path(__file__).resolve().parent.parent / "models" / "reader"
ONNX_INT8_FILE = "model_int8.onnx"
BACKENDS = ("fp32", "int8", "onnx-int8")


@dataclass(frozen=True)
class SpanCandidate:
    """An answer span in ``passages[passage_index]``: ``passage[start:end] == text``.

    ``score`` is the span's start+end logit; ``null_score`` the passage's no-answer score; ``margin`` their
    difference (positive: the model prefers this span to "no answer").
    """

    passage_index: int
    start: int
    end: int
    text: str
    score: float
    null_score: float

    @property
    def margin(self) -> float:
        return self.score - self.null_score


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
            feeds = {"input_ids": input_ids[row : row + 1, :length].numpy(),
                     "token_type_ids": token_type_ids[row : row + 1, :length].numpy(),
                     "attention_mask": attention_mask[row : row + 1, :length].numpy()}
            (start[row, :length],), (end[row, :length],) = self.session.run(["start_logits", "end_logits"], feeds)
        return SimpleNamespace(start_logits=torch.from_numpy(start), end_logits=torch.from_numpy(end))


@functools.lru_cache(maxsize=8)
def _read_calibration(model_dir: Path) -> ReaderCalibration:
    """Read ``calibration.json`` once per model folder (it is consulted on every question)."""
    path = model_dir / "calibration.json"
    if not path.exists():
        return ReaderCalibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    return ReaderCalibration(float(data["threshold"]), float(data["slope"]), float(data["intercept"]),
                             bool(data.get("passage_header", False)), str(data.get("backend", "fp32")))


class ReaderModel:
    """The shipped extractive QA model. Construction is cheap; weights load on first use, once."""

    def __init__(
        self, model_dir: str | Path | None = None, *, backend: str | None = None, max_length: int = 384,
        stride: int = 128, max_answer_tokens: int = 30, n_best: int = 5, batch_size: int = 16,
        threads: int | None = None, max_question_tokens: int = 64,
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
                "python -m qa.training.train_reader, then python -m qa.training.export_reader"
            )

    def load(self):
        """Load (or fetch from cache) the tokenizer and model; raises ``ReaderModelMissingError``."""
        self._check_files()
        tokenizer, model = _load_model(str(self.model_dir), self.backend, self.threads)
        if len(tokenizer) != model.config.vocab_size:
            raise ReaderModelMissingError(
                f"The reader tokenizer in {self.model_dir} has {len(tokenizer)} tokens but the model expects "
                f"{model.config.vocab_size}: the files do not belong together. Restore models/reader/ from git."
            )
        return tokenizer, model

    @property
    def calibration(self) -> ReaderCalibration:
        """The no-answer threshold and confidence mapping shipped beside the weights."""
        return _read_calibration(self.model_dir)

    def read(
        self, question: str, passages: list[str], *, headers: list[str] | None = None, n_best: int | None = None,
    ) -> list[SpanCandidate]:
        """Return the best spans over all ``passages``, best first (up to ``n_best`` per passage).

        ``headers`` (one per passage, optional) is context the model reads on a line before its passage,
        such as the article's title and date, but never answers from: spans and offsets are in the passage.
        Every candidate carries its passage's no-answer score; a passage with no valid span contributes
        nothing. Raises ``ReaderModelMissingError`` when the weights are missing.
        """
        return self.read_many([(question, passages, headers)], n_best=n_best)[0]

    def read_many(self, items: list[tuple], *, n_best: int | None = None) -> list[list[SpanCandidate]]:
        """``read`` for several ``(question, passages)`` or ``(question, passages, headers)`` items at once,
        batching all their windows together."""
        import torch

        n_best = self.n_best if n_best is None else n_best
        results: list[list[SpanCandidate]] = [[] for _ in items]
        if not any(item[0].strip() and item[1] for item in items):
            return results
        tokenizer, model = self.load()
        pairs = []  # (item index, question, passage, context prefix before the passage)
        for i, (question, passages, *rest) in enumerate(items):
            if not question.strip():
                continue
            question = self._truncate_question(tokenizer, question.strip())
            headers = rest[0] if rest and rest[0] is not None else [""] * len(passages)
            if len(headers) != len(passages):
                raise ValueError("give one header per passage")
            pairs += [(i, question, p, f"{h.strip()}\n" if h.strip() else "") for p, h in zip(passages, headers)]
        encoded = tokenizer(
            [q for _, q, _, _ in pairs], [prefix + p for _, _, p, prefix in pairs], truncation="only_second",
            max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
            return_offsets_mapping=True, padding=False,
        )
        feature_count = len(encoded["input_ids"])
        order = sorted(range(feature_count), key=lambda i: len(encoded["input_ids"][i]))
        start_logits: list = [None] * feature_count
        end_logits: list = [None] * feature_count
        with self._lock, torch.inference_mode():
            for offset in range(0, feature_count, self.batch_size):
                batch = order[offset : offset + self.batch_size]
                width = max(len(encoded["input_ids"][i]) for i in batch)
                ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
                types = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(encoded["input_ids"][i])
                    ids[row, :n] = torch.tensor(encoded["input_ids"][i])
                    types[row, :n] = torch.tensor(encoded["token_type_ids"][i])
                    mask[row, :n] = 1
                output = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
                starts, ends = output.start_logits.float().numpy(), output.end_logits.float().numpy()
                for row, i in enumerate(batch):
                    n = len(encoded["input_ids"][i])
                    start_logits[i], end_logits[i] = starts[row, :n], ends[row, :n]
        pair_null: dict[int, float] = {}
        spans: dict[tuple[int, int, int], float] = {}
        for feature in range(feature_count):
            pair_index = encoded["overflow_to_sample_mapping"][feature]
            offsets = encoded["offset_mapping"][feature]
            skip = len(pairs[pair_index][3])  # the header is read, never answered from
            context_mask = np.array([s == 1 and offsets[t][0] >= skip for t, s in enumerate(encoded.sequence_ids(feature))])
            window_null = null_score(start_logits[feature], end_logits[feature])
            pair_null[pair_index] = min(pair_null.get(pair_index, math.inf), window_null)
            for span in best_token_spans(
                start_logits[feature], end_logits[feature], context_mask,
                max_answer_tokens=self.max_answer_tokens, n_best=n_best,
            ):
                key = (pair_index, offsets[span.start_token][0] - skip, offsets[span.end_token][1] - skip)
                # Overlapping windows see the same span: keep its best score.
                spans[key] = max(spans.get(key, -math.inf), span.score)
        first_pair_of_item: dict[int, int] = {}
        for pair_index, (item_index, *_) in enumerate(pairs):
            first_pair_of_item.setdefault(item_index, pair_index)
        per_pair: dict[int, list[SpanCandidate]] = {}
        for (pair_index, s, e), score in spans.items():
            item_index, _, passage, _ = pairs[pair_index]
            if passage[s:e].strip():
                passage_index = pair_index - first_pair_of_item[item_index]
                per_pair.setdefault(pair_index, []).append(
                    SpanCandidate(passage_index, s, e, passage[s:e], score, pair_null[pair_index]))
        for pair_index, candidates in per_pair.items():
            candidates.sort(key=lambda c: (-c.score, c.start))
            results[pairs[pair_index][0]].extend(candidates[:n_best])
        for candidates in results:
            candidates.sort(key=lambda c: (-c.score, c.passage_index, c.start))
        return results

    def _truncate_question(self, tokenizer, question: str) -> str:
        """Cut a question to ``max_question_tokens`` word pieces (at a character boundary), so that every
        window keeps room for the passage and the stride (as the SQuAD reference code caps query length)."""
        encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]
