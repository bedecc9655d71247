"""Export a training checkpoint as the shipped reader (fp16 safetensors, an ONNX Runtime int8 graph, the
tokenizer) and calibrate it for the backend it ships with.

Calibration uses only the held-out SQuAD *train* articles recorded in the checkpoint (never a dev set):
their questions over their own paragraph (answerable) and synthetic unanswerable copies. The no-answer
threshold is the margin (best span score - no-answer score) that maximises SQuAD-2-style F1 there; the
confidence is a logistic fit of "the answer is right" on the margin.
Run: ``python -m training.export_reader --checkpoint checkpoints/reader --output models/reader``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
from pathlib import Path

import numpy as np

from embeddings.encoder import packaged_minilm_dir
from qa.metrics import f1_score
from qa.reader import ANSWERABILITY_FILE
from training.negatives import MAKERS
from training.squad_data import (
    dated_header,
    example_titles,
    examples_from_articles,
    load_articles,
    name_pool,
)

# Encoder layers left in fp32 by the int8 export (the span head always is). None since 0.8.0: every
# layer int8 costs about 0.3 SQuAD F1 more than keeping layers 0 and 5 fp32, and makes a window 20% cheaper,
# which pays for the rereader (CHANGELOG.md, 0.8.0). ``--fp32-layers 0 5`` gives the older graph.
FP32_LAYERS: tuple[int, ...] = ()
LOG = logging.getLogger("export_reader")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MAX_FILE_BYTES = 90_000_000  # a shipped graph larger than this is split into external-data files (limit: 100 MB)


def materialise_run(run: Path, output: Path) -> Path:
    """A LoRA run's save (``train_reader --lora-rank``: adapters and heads only) as a plain model folder: the
    run's base with the adapters merged into its linear layers, the span head, the answerability head (when
    the run trained one: ``ANSWERABILITY_FILE``), the run's tokenizer and its ``state.json``. Returns
    ``output``."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from training.lora import add_answerability_head, add_lora, load_trainable_state, merge_lora
    from training.train_reader import ADAPTER_FILE, load_qa_model

    state = json.loads((run / "state.json").read_text())
    args = state["args"]
    if not args.get("base"):
        raise SystemExit(f"{run}: the run names no --base to merge its adapters into")
    model = load_qa_model(args["base"])
    add_lora(model, rank=args["lora_rank"], layers=args["lora_layers"], alpha=args["lora_alpha"], dropout=0.0)
    if args.get("answerability_weight"):
        add_answerability_head(model)
    load_trainable_state(model, load_file(run / ADAPTER_FILE))
    merged = merge_lora(model)
    LOG.info("merged %d adapted layers of %s into %s", merged, run, args["base"])
    output.mkdir(parents=True, exist_ok=True)
    head = getattr(model, "answerability", None)
    if head is not None:
        del model.answerability
        save_file({k: v.contiguous() for k, v in head.state_dict().items()}, output / ANSWERABILITY_FILE)
    model.save_pretrained(output)
    AutoTokenizer.from_pretrained(run).save_pretrained(output)
    shutil.copyfile(run / "state.json", output / "state.json")
    return output


def export_weights(checkpoint: Path, output: Path) -> None:
    """Write config, tokenizer files and fp16 weights of ``checkpoint`` into ``output`` (and its answerability
    head, fp32, when it has one)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(checkpoint, dtype=torch.float32)
    model = model.half()
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    if model.config.model_type == "bert":
        # A MiniLM reader was trained with the packaged encoder's tokenizer: ship those files byte for byte.
        for name in TOKENIZER_FILES:
            shutil.copyfile(packaged_minilm_dir() / name, output / name)
    else:
        # Another base (``train_reader --base``): its run saved its tokenizer beside the weights, with the
        # truncation it last tokenised with; the reader sets its own, so ship it without any.
        run_tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        run_tokenizer.backend_tokenizer.no_truncation()
        run_tokenizer.backend_tokenizer.no_padding()
        run_tokenizer.save_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    if len(tokenizer) != model.config.vocab_size:
        raise SystemExit(f"tokenizer has {len(tokenizer)} tokens, model expects {model.config.vocab_size}")
    for stray in ("training_args.bin", "optimizer.safetensors", "state.json", ANSWERABILITY_FILE):
        (output / stray).unlink(missing_ok=True)
    if (checkpoint / ANSWERABILITY_FILE).exists():
        shutil.copyfile(checkpoint / ANSWERABILITY_FILE, output / ANSWERABILITY_FILE)


def export_onnx_int8(
    output: Path, fp32_layers: tuple[int, ...] = FP32_LAYERS, fp32_ffn_outputs: tuple[int, ...] = ()
) -> Path:
    """Write ``model_int8.onnx`` beside the exported weights: the fp32 graph exported with dynamic batch and
    sequence axes, then quantised by ONNX Runtime (int8 per-channel weights, reduced range, activations
    quantised at run time; ``fp32_layers``, the feed-forward output projections of the layers in
    ``fp32_ffn_outputs`` and the span head stay fp32). Needs the ``train`` extra (``onnx``)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForQuestionAnswering

    from qa.reader import ONNX_INT8_FILE, takes_segment_ids

    model = AutoModelForQuestionAnswering.from_pretrained(output, dtype=torch.float32).eval()
    segments = takes_segment_ids(model.config)  # BERT yes, MPNet no
    head = None
    if (output / ANSWERABILITY_FILE).exists():
        from safetensors.torch import load_file

        weights = load_file(output / ANSWERABILITY_FILE)
        head = torch.nn.Linear(weights["weight"].shape[1], 1)
        head.load_state_dict(weights)

    class Logits(torch.nn.Module):
        def __init__(self, inner, answerability):
            super().__init__()
            self.inner = inner
            self.answerability = answerability

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            if self.answerability is None:
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
                return out.start_logits, out.end_logits
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **extra)
            return out.start_logits, out.end_logits, self.answerability(out.hidden_states[-1][:, 0]).squeeze(-1)

    names = ["input_ids", "attention_mask", *(["token_type_ids"] if segments else [])]
    outputs = ["start_logits", "end_logits", *(["answerable_logits"] if head is not None else [])]
    example = torch.ones((1, 32), dtype=torch.long)
    fp32_path = output / "model_fp32.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "start_logits", "end_logits"]}
    torch.onnx.export(
        Logits(model, head).eval(),
        (example, example, *([torch.zeros_like(example)] if segments else [])),
        str(fp32_path),
        input_names=names,
        output_names=outputs,
        opset_version=17,
        dynamic_axes={**axes, **({"answerable_logits": {0: "batch"}} if head is not None else {})},
        dynamo=False,
    )
    # The span head and ``fp32_layers`` stay fp32 (the reader of 0.4.0: quantising every layer cost 0.68 F1 on
    # SQuAD 1.1 dev, keeping layers 0 and 5 fp32 0.37, at 2.1x rather than 2.5x fp32's speed; MODEL_CARD.md).
    import onnx

    graph = onnx.load(str(fp32_path)).graph
    # A feed-forward output projection reads the GELU's activations, whose few large values make one
    # activation scale per run coarse for all the others: in the all-mpnet-base-v2 reader of the v5 run (step
    # 4635) those of layers 6 to 8 carried most of the int8 graph's error (mean absolute logit error against
    # fp32 over 40 windows: 1.06 all int8, 0.49 with those three fp32; 600 held-out SQuAD train questions:
    # F1 78.9 -> 80.5 (docs/training.md), a window of 200 tokens 55 ms instead of 49).
    keep = (
        *tuple(f"/layer.{i}/" for i in fp32_layers),
        *tuple(f"/layer.{i}/output/dense/" for i in fp32_ffn_outputs),
        "qa_outputs",
        "/answerability/",
    )
    excluded = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and any(k in n.name for k in keep)]
    absent = [i for i in fp32_layers if not any(f"/layer.{i}/" in name for name in excluded)]
    absent += [i for i in fp32_ffn_outputs if not any(f"/layer.{i}/output/dense/" in name for name in excluded)]
    if absent:
        raise ValueError(f"the model has no encoder layer {absent}; it has {model.config.num_hidden_layers}")
    quantize_dynamic(
        str(fp32_path),
        str(output / ONNX_INT8_FILE),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        nodes_to_exclude=excluded,
    )
    fp32_path.unlink()
    split_external_data(output / ONNX_INT8_FILE)
    return output / ONNX_INT8_FILE


def split_external_data(path: Path, max_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """When the graph at ``path`` is larger than ``max_bytes``, move its large weights into ONNX external-data
    files beside it (``<name>.data0``, ``.data1``, ... each at most ``max_bytes``, or one tensor alone if that
    is larger), so that no shipped file
    passes the repository's file-size limit; ONNX Runtime reads them from the graph's folder. Returns the data
    files written (none for a small graph)."""
    import onnx
    from onnx.external_data_helper import set_external_data

    for stale in path.parent.glob(f"{path.name}.data*"):
        stale.unlink()
    if path.stat().st_size <= max_bytes:
        return []
    model = onnx.load(str(path))
    files: list[Path] = []
    handle = None
    written = 0
    try:
        for tensor in model.graph.initializer:
            data = tensor.raw_data
            if len(data) < 4096:
                continue
            if handle is None or written + len(data) > max_bytes:
                if handle is not None:
                    handle.close()
                files.append(path.with_name(f"{path.name}.data{len(files)}"))
                handle = files[-1].open("wb")
                written = 0
            handle.write(data)
            set_external_data(tensor, location=files[-1].name, offset=written, length=len(data))
            tensor.data_location = onnx.TensorProto.EXTERNAL
            tensor.ClearField("raw_data")
            written += len(data)
    finally:
        if handle is not None:
            handle.close()
    onnx.save(model, str(path))
    return files


def margins_on(
    reader, examples, headers: list[str] | None = None, *, answerability: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(margin, F1 of the best span, answerable flag) for each example, read one passage at a time, under
    its header line when ``headers`` (one per example) are given. ``answerability``, when given, receives
    each example's answerability logit (0 where the reader has no such head or found no span)."""
    margins, f1s, answerable = [], [], []
    headers = headers if headers is not None else [""] * len(examples)
    read = []
    for offset in range(0, len(examples), 64):
        batch = range(offset, min(offset + 64, len(examples)))
        read += reader.read_many([(examples[i].question, [examples[i].context], [headers[i]]) for i in batch], n_best=1)
    for example, candidates in zip(examples, read, strict=True):
        if candidates:
            margins.append(candidates[0].margin)
            f1s.append(f1_score(candidates[0].text, list(example.answers)) if example.answers else 0.0)
        else:
            margins.append(-1e3)
            f1s.append(0.0)
        if answerability is not None:
            answerability.append(float(candidates[0].answerability or 0.0) if candidates else 0.0)
        answerable.append(bool(example.answers))
    return np.array(margins), np.array(f1s), np.array(answerable)


def choose_threshold(margins: np.ndarray, f1s: np.ndarray, answerable: np.ndarray) -> tuple[float, float]:
    """The margin threshold maximising SQuAD-2 F1 (answer if margin > threshold), and that F1, with the two
    kinds of question weighted equally: the share of unanswerable ones in a calibration set is an artefact
    of how many synthetic negatives were made, so the threshold is fitted as if half were answerable (as in
    SQuAD 2.0 dev), not at whatever mix the makers produced."""
    best = (0.0, -1.0)
    has = answerable.astype(bool)
    for threshold in np.unique(np.concatenate([margins, [0.0]])):
        answered = margins > threshold
        per_kind = []  # mean F1 over the answerable questions, mean abstention over the others
        if has.any():
            per_kind.append(np.where(answered[has], f1s[has], 0.0).mean())
        if (~has).any():
            per_kind.append((~answered[~has]).mean())
        score = sum(per_kind) / len(per_kind)
        if score > best[1]:
            best = (float(threshold), float(score))
    return best


ANSWERABILITY_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)


def choose_weight_and_threshold(
    margins: np.ndarray, logits: np.ndarray, f1s: np.ndarray, answerable: np.ndarray
) -> tuple[float, float, float]:
    """For a reader with an answerability head: the weight of its logit in the decision score (span margin +
    weight x logit), among ``ANSWERABILITY_WEIGHTS``, with the threshold that ``choose_threshold`` fits for
    it; the pair with the best equally weighted SQuAD-2 F1 wins (the smaller weight on a tie). Returns
    (weight, threshold, F1); without logits (all zero) the weight is 0."""
    best = (0.0, *choose_threshold(margins, f1s, answerable))
    if not np.any(logits):
        return best
    for weight in ANSWERABILITY_WEIGHTS[1:]:
        threshold, score = choose_threshold(margins + weight * logits, f1s, answerable)
        if score > best[2] + 1e-9:
            best = (weight, threshold, score)
    return best


def fit_logistic(x: np.ndarray, y: np.ndarray, *, steps: int = 100, ridge: float = 1e-2) -> tuple[float, float]:
    """Fit p(y=1) = sigmoid(a*x + b) by damped Newton steps on standardised x (with a small ridge so
    separable data stays finite); returns (a, b) for the raw x."""
    x = np.clip(np.asarray(x, dtype=float), -30.0, 30.0)
    mean, scale = x.mean(), x.std() or 1.0
    design = np.stack([(x - mean) / scale, np.ones_like(x)], axis=1)
    weights = np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(design @ weights, -60, 60)))
        gradient = design.T @ (p - y) / len(x) + ridge * np.array([weights[0], 0.0])
        hessian = design.T @ (design * (p * (1 - p))[:, None]) / len(x) + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step * min(1.0, 2.0 / (np.abs(step).max() + 1e-12))
    a = weights[0] / scale
    return float(a), float(weights[1] - a * mean)


def calibrate(
    output: Path,
    heldout_articles: list[dict],
    *,
    seed: int,
    limit: int,
    names: list[str] | None = None,
    passage_header: bool = False,
    backend: str = "fp32",
    perturb_ratio: float = 0.0,
    makers: tuple[str, ...] = MAKERS,
    article_swap_ratio: float = 0.0,
    dated_headers: bool = False,
) -> dict:
    """Measure margins of the exported reader on held-out examples and write ``calibration.json``.

    With ``names``, half the unanswerable copies are entity-swapped questions over their own paragraph
    (as in training with ``--swap-ratio``), half other/trimmed paragraphs; otherwise all are the latter.
    ``perturb_ratio``, ``makers`` and ``article_swap_ratio`` make the unanswerable twins as the training run
    made its own held-out mix (``training.squad_data.examples_from_articles``).
    With ``passage_header``, every passage is read under its article's title, as the pipeline reads
    corpus passages under their title-and-date line; ``calibration.json`` records it so the pipeline
    reads the way the threshold was fitted. ``backend`` is the inference backend the model ships with
    (recorded too): its margins are what the threshold is fitted on. With ``dated_headers`` each title line
    also gets a made-up dateline, as corpus passages have (for a reader trained with ``--date-ratio``).
    """
    from qa.reader import ReaderModel, _read_calibration

    if names:
        examples = examples_from_articles(
            heldout_articles,
            negative_ratio=0.5,
            rng=random.Random(seed),
            swap_ratio=0.5,
            names=names,
            perturb_ratio=perturb_ratio,
            makers=makers,
            article_swap_ratio=article_swap_ratio,
        )
    else:
        examples = examples_from_articles(heldout_articles, negative_ratio=1.0, rng=random.Random(seed))
    random.Random(seed).shuffle(examples)
    examples = examples[:limit]
    headers = example_titles(examples, heldout_articles) if passage_header else None
    if headers and dated_headers:
        dates = random.Random(seed + 1)
        headers = [dated_header(title, dates)[0] for title in headers]
    logits: list[float] = []
    (output / "calibration.json").unlink(missing_ok=True)  # margins are measured raw, without an earlier fit
    _read_calibration.cache_clear()
    reader = ReaderModel(output, backend=backend)
    margins, f1s, answerable = margins_on(reader, examples, headers, answerability=logits)
    weight, threshold, best_f1 = choose_weight_and_threshold(margins, np.array(logits), f1s, answerable)
    margins = margins + weight * np.array(logits)
    correct = np.where(answerable, f1s >= 0.5, False).astype(float)
    slope, intercept = fit_logistic(margins, correct)
    calibration = {
        "threshold": threshold,
        "slope": slope,
        "intercept": intercept,
        "fitted_on": f"{len(examples)} questions ({int(answerable.sum())} answerable) of the held-out SQuAD 1.1 "
        f"train articles with synthetic unanswerable copies"
        + (" (half of them entity-swapped questions)" if names else "")
        + (f" and twins changed by {', '.join(makers)} for {perturb_ratio:.0%} of questions" if perturb_ratio else "")
        + (
            f"; {article_swap_ratio:.0%} of swaps take a name of the question's own article"
            if article_swap_ratio
            else ""
        )
        + (" under title lines with made-up datelines" if passage_header and dated_headers else "")
        + "; threshold fitted with answerable and unanswerable questions weighted equally",
        "heldout_squad2_style_f1": round(100 * best_f1, 2),
        "passage_header": passage_header,
        "backend": backend,
    }
    if any(logits):
        calibration["answerability_weight"] = weight
    (output / "calibration.json").write_text(json.dumps(calibration, indent=1))
    return calibration


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/reader")
    parser.add_argument("--output", default="models/reader")
    parser.add_argument("--train", default="../shared/data/squad/train-v1.1.json")
    parser.add_argument("--calibration-examples", type=int, default=1500)
    parser.add_argument("--skip-weights", action="store_true", help="only recalibrate the exported model")
    parser.add_argument(
        "--no-passage-header",
        dest="passage_header",
        action="store_false",
        help="calibrate (and so make the pipeline read) passages without their title line",
    )
    parser.add_argument(
        "--backend",
        choices=("fp32", "onnx-int8"),
        default="onnx-int8",
        help="the inference backend to ship (and calibrate): ONNX Runtime int8 or torch fp32",
    )
    parser.add_argument(
        "--fp32-layers",
        type=int,
        nargs="*",
        default=list(FP32_LAYERS),
        help="encoder layers the int8 graph keeps in fp32 (default none: every layer int8; 0 5: the graph "
        "shipped before 0.8.0, about 25%% slower a window)",
    )
    parser.add_argument(
        "--fp32-ffn-outputs",
        type=int,
        nargs="*",
        default=[],
        help="layers whose feed-forward output projection the int8 graph keeps in fp32 (default none; 6 7 8 "
        "for the all-mpnet-base-v2 reader: export_onnx_int8)",
    )
    parser.add_argument(
        "--onnx-only",
        action="store_true",
        help="ship the int8 graph alone (no fp16 safetensors): a large base's weights stay out of the repository",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    checkpoint, output = Path(args.checkpoint), Path(args.output)
    state = json.loads((checkpoint / "state.json").read_text())
    if args.skip_weights and (tuple(args.fp32_layers) != FP32_LAYERS or args.fp32_ffn_outputs):
        parser.error("--fp32-layers and --fp32-ffn-outputs change the exported graph; not with --skip-weights")
    if not args.skip_weights:
        from training.train_reader import ADAPTER_FILE

        if (checkpoint / ADAPTER_FILE).exists():  # a LoRA run: merge its adapters into its base first
            checkpoint = materialise_run(checkpoint, Path("checkpoints") / f"{checkpoint.name}-merged")
        export_weights(checkpoint, output)
        export_onnx_int8(output, tuple(args.fp32_layers), tuple(args.fp32_ffn_outputs))
        if args.onnx_only:
            (output / "model.safetensors").unlink()
            (output / ANSWERABILITY_FILE).unlink(missing_ok=True)  # the graph has the head
    titles = set(state["heldout_titles"])
    articles = load_articles(args.train)
    heldout = [a for a in articles if a["title"] in titles]
    names = name_pool([a for a in articles if a["title"] not in titles]) if state["args"].get("swap_ratio") else None
    calibration = calibrate(
        output,
        heldout,
        seed=state["args"]["seed"] + 7,
        limit=args.calibration_examples,
        names=names,
        passage_header=args.passage_header,
        backend=args.backend,
        # The held-out mix of a run that trained on perturbed twins includes them (train_reader does too).
        perturb_ratio=0.5 if state["args"].get("perturb_ratio") else 0.0,
        makers=tuple(state["args"].get("makers") or MAKERS),
        article_swap_ratio=float(state["args"].get("article_swap_ratio") or 0.0),
        # A run trained under made-up datelines is calibrated under them, as the pipeline reads.
        dated_headers=bool(state["args"].get("date_ratio")),
    )
    training = {k: state[k] for k in ("step", "epoch", "elapsed", "curve", "heldout_titles")}
    training["args"] = state["args"]
    (output / "training_log.json").write_text(json.dumps(training, indent=1))
    LOG.info("exported to %s; calibration %s", output, calibration)
    shutil.rmtree(output / ".cache", ignore_errors=True)


if __name__ == "__main__":
    main()
