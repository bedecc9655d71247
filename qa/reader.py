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

from embeddings.onnx_encoder import onnx_session
from qa.defaults import DEFAULT_READER_DIR
from qa.errors import ReaderModelMismatchError, ReaderModelMissingError
from qa.span_decoding import SpanCandidate, WindowLogits, decode_windows

ONNX_INT8_FILE = "model_int8.onnx"
ANSWERABILITY_FILE = "answerability.safetensors"  # the answerability head of a torch-backend reader
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
    ``backend``: the inference backend the margins were measured with, which ``ReaderModel`` uses by default.
    ``stop_margin``: the pipeline stops reading further windows once a candidate's margin reaches it
    (calibrated in an open-corpus run by ``training/calibrate_stop.py``); None reads every window.
    ``answerability_weight``: for a reader with an answerability head, how much its logit lowers the
    no-answer score (``qa.span_decoding.decode_windows``); fitted with the threshold.
    ``first_reader_weight``: for a rereader, how much the first reader's margin for the same span adds to
    its own (``qa.reading.blend_margins``; 0: the rereader decides alone); fitted with the threshold on the
    development sets (``training/calibrate_dev.py``).
    ``overlap_weight``: how much ``qa.questions.question_overlap`` of the best answer's window (the share of
    the question's content words it holds, 0 to 1) adds to every margin of the question before the
    threshold decides (``qa.grouping.answer_groups``: the decision moves, the order of answers does not);
    negative for a reader whose margin over-rewards a passage that repeats the question's words (a near-miss
    question often does; a right answer to a question in other words often does not). 0: none. Fitted with
    the threshold on the development sets."""

    threshold: float = 0.0
    slope: float = 1.0
    intercept: float = 0.0
    passage_header: bool = False
    backend: str = "fp32"
    stop_margin: float | None = None
    answerability_weight: float = 0.0
    first_reader_weight: float = 0.0
    overlap_weight: float = 0.0

    def confidence(self, margin: float) -> float:
        """Probability-like confidence in [0, 1] that an answer with this margin is right."""
        z = self.slope * margin + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model_dir: str) -> Any:
    """The reader's word-piece tokenizer (``tokenizers``, as transformers' fast tokenizer runs it underneath),
    loaded once per folder; each use sets its own truncation on a copy (see ``_pair_tokenizer``)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@functools.lru_cache(maxsize=8)
def _pair_tokenizer(model_dir: str, max_length: int, stride: int) -> Any:
    """A copy of the reader's tokenizer that cuts (question, passage) pairs into windows of ``max_length``
    tokens overlapping by ``stride``, cutting only the passage (transformers' ``truncation="only_second"``
    with ``return_overflowing_tokens``)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(_load_tokenizer(model_dir).to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
    return tokenizer


@functools.lru_cache(maxsize=4)
def _load_model(model_dir: str, backend: str, threads: int):
    """Load the model once per (folder, backend, threads); later calls reuse it. Only the torch backends
    ("fp32", "int8") import torch and transformers; "onnx-int8" needs ONNX Runtime alone."""
    if backend == "onnx-int8":
        return _OnnxReader(Path(model_dir) / ONNX_INT8_FILE, threads)
    if backend not in ("fp32", "int8"):
        raise ValueError(f"unknown reader backend {backend!r}; use one of {', '.join(BACKENDS)}")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoModelForQuestionAnswering

    torch.set_num_threads(threads)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
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
    head_file = Path(model_dir) / ANSWERABILITY_FILE
    if head_file.exists():
        from safetensors.torch import load_file

        weights = load_file(head_file)
        head = torch.nn.Linear(weights["weight"].shape[1], 1)
        head.load_state_dict(weights)
        model.answerability = head.eval()
    return model


def takes_segment_ids(config: Any) -> bool:
    """True when a model of this config reads segment ids (BERT: two segment embeddings); MPNet has none, and
    its ``**kwargs`` would take them silently. Read from the config, not from ``forward``'s signature, which
    a wrapper can hide."""
    return int(getattr(config, "type_vocab_size", 0) or 0) > 1


WindowOutput = tuple[np.ndarray, np.ndarray, float | None]  # start logits, end logits, answerability logit


class _OnnxReader:
    """The exported reader run by ONNX Runtime (``model_int8.onnx``: int8 per-channel weights).

    ``run_window`` runs one window alone, without padding: dynamic quantisation scales activations by the
    range of the whole input, so a batch would make one passage's scores depend on the others read with it.
    """

    def __init__(self, path: Path, threads: int) -> None:
        self.session = onnx_session(path, threads)
        config = json.loads((path.parent / "config.json").read_text(encoding="utf-8"))
        self.config = SimpleNamespace(vocab_size=int(config["vocab_size"]))
        # A BERT graph takes segment ids; an MPNet one has no such input.
        self.token_types = any(i.name == "token_type_ids" for i in self.session.get_inputs())
        self.outputs = ["start_logits", "end_logits"]
        if any(o.name == "answerable_logits" for o in self.session.get_outputs()):
            self.outputs.append("answerable_logits")

    def run_window(self, input_ids: Sequence[int], token_type_ids: Sequence[int]) -> WindowOutput:
        """Start and end logits of one window, and its answerability logit when the graph has that head."""
        ids = np.asarray([input_ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if self.token_types:
            feeds["token_type_ids"] = np.asarray([token_type_ids], dtype=np.int64)
        (start,), (end,), *rest = self.session.run(self.outputs, feeds)
        return start, end, (float(rest[0][0]) if rest else None)


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
        float(data["stop_margin"]) if data.get("stop_margin") is not None else None,
        float(data.get("answerability_weight", 0.0)),
        float(data.get("first_reader_weight", 0.0)),
        float(data.get("overlap_weight", 0.0)),
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
                "Restore the shipped readers from the repository (git checkout -- models/reader models/rereader) "
                "or retrain: "
                "python -m training.train_reader, then python -m training.export_reader"
            )

    def load(self) -> tuple[Any, Any]:
        """Load (or fetch from cache) the tokenizer and model. Raises ``ReaderModelMissingError`` when files
        are missing and ``ReaderModelMismatchError`` when tokenizer and weights do not belong together."""
        self._check_files()
        tokenizer = _load_tokenizer(str(self.model_dir))
        model = _load_model(str(self.model_dir), self.backend, self.threads)
        vocabulary = tokenizer.get_vocab_size(with_added_tokens=True)
        if vocabulary != model.config.vocab_size:
            raise ReaderModelMismatchError(
                f"The reader tokenizer in {self.model_dir} has {vocabulary} tokens but the model expects "
                f"{model.config.vocab_size}: the files do not belong together. Restore {self.model_dir} from git."
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
        windows = self._windows(model, pairs)
        passages = [pair.passage for pair in pairs]
        per_pair = decode_windows(
            windows,
            passages,
            [len(pair.prefix) for pair in pairs],
            max_answer_tokens=self.max_answer_tokens,
            n_best=n_best,
            answerability_weight=self.calibration.answerability_weight,
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

    def _windows(self, model: Any, pairs: list[_Pair]) -> list[WindowLogits]:
        """Tokenise every pair into stride windows and run them through the model (ONNX: each window alone;
        torch: shortest first in padded batches); returns each window's logits with its offsets."""
        pair_tokenizer = _pair_tokenizer(str(self.model_dir), self.max_length, self.stride)
        encodings = pair_tokenizer.encode_batch([(pair.question, pair.prefix + pair.passage) for pair in pairs])
        windows = [(p, window) for p, encoding in enumerate(encodings) for window in [encoding, *encoding.overflowing]]
        with self._lock:
            if hasattr(model, "run_window"):
                logits = [model.run_window(window.ids, window.type_ids) for _, window in windows]
            else:
                logits = self._torch_logits(model, [window for _, window in windows])
        return [
            WindowLogits(p, window.offsets, window.sequence_ids, start, end, answerable)
            for (p, window), (start, end, answerable) in zip(windows, logits, strict=True)
        ]

    def _torch_logits(self, model: Any, windows: list[Any]) -> list[WindowOutput]:
        """Start and end logits (and answerability logits, with that head) of each window from a torch model,
        shortest first in padded batches."""
        import torch

        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        logits: dict[int, WindowOutput] = {}
        head = getattr(model, "answerability", None)
        pad = getattr(model.config, "pad_token_id", None) or 0  # masked anyway; MPNet's positions skip it
        segments = takes_segment_ids(model.config)
        with torch.inference_mode():
            for offset in range(0, len(order), self.batch_size):
                batch = order[offset : offset + self.batch_size]
                width = max(len(windows[i].ids) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                types = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(windows[i].ids)
                    ids[row, :n] = torch.tensor(windows[i].ids)
                    types[row, :n] = torch.tensor(windows[i].type_ids)
                    mask[row, :n] = 1
                inputs = {"input_ids": ids, "attention_mask": mask}
                if segments:
                    inputs["token_type_ids"] = types
                output = model(**inputs, **({"output_hidden_states": True} if head is not None else {}))
                starts, ends = output.start_logits.float().numpy(), output.end_logits.float().numpy()
                answerable = head(output.hidden_states[-1][:, 0]).float().numpy()[:, 0] if head is not None else None
                for row, i in enumerate(batch):
                    n = len(windows[i].ids)
                    logits[i] = (
                        starts[row, :n],
                        ends[row, :n],
                        float(answerable[row]) if answerable is not None else None,
                    )
        return [logits[i] for i in range(len(windows))]

    def _truncate_question(self, tokenizer, question: str) -> str:
        """Cut a question to ``max_question_tokens`` word pieces (at a character boundary), so that every
        window keeps room for the passage and the stride (as the SQuAD reference code caps query length)."""
        offsets = tokenizer.encode(question, add_special_tokens=False).offsets
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]
