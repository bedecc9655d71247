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
from training.negatives import MAKERS
from training.squad_data import (
    dated_header,
    example_titles,
    examples_from_articles,
    load_articles,
    name_pool,
)

# Encoder layers left in fp32 by the int8 export (the span head always is). None since session 12: every
# layer int8 costs about 0.3 SQuAD F1 more than keeping layers 0 and 5 fp32, and makes a window 20% cheaper,
# which pays for the rereader (MODEL_CARD.md, "Session 12"). ``--fp32-layers 0 5`` gives the older graph.
FP32_LAYERS: tuple[int, ...] = ()
LOG = logging.getLogger("export_reader")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def export_weights(checkpoint: Path, output: Path) -> None:
    """Write config, tokenizer files and fp16 weights of ``checkpoint`` into ``output``."""
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
    for stray in ("training_args.bin", "optimizer.safetensors", "state.json"):
        (output / stray).unlink(missing_ok=True)


def export_onnx_int8(output: Path, fp32_layers: tuple[int, ...] = FP32_LAYERS) -> Path:
    """Write ``model_int8.onnx`` beside the exported weights: the fp32 graph exported with dynamic batch and
    sequence axes, then quantised by ONNX Runtime (int8 per-channel weights, reduced range, activations
    quantised at run time; ``fp32_layers`` and the span head stay fp32). Needs the ``train`` extra (``onnx``)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForQuestionAnswering

    from qa.reader import ONNX_INT8_FILE, takes_segment_ids

    model = AutoModelForQuestionAnswering.from_pretrained(output, dtype=torch.float32).eval()
    segments = takes_segment_ids(model.config)  # BERT yes, MPNet no

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return out.start_logits, out.end_logits

    names = ["input_ids", "attention_mask", *(["token_type_ids"] if segments else [])]
    example = torch.ones((1, 32), dtype=torch.long)
    fp32_path = output / "model_fp32.onnx"
    torch.onnx.export(
        Logits(model),
        (example, example, *([torch.zeros_like(example)] if segments else [])),
        str(fp32_path),
        input_names=names,
        output_names=["start_logits", "end_logits"],
        opset_version=17,
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "start_logits", "end_logits"]},
        dynamo=False,
    )
    # The span head and ``fp32_layers`` stay fp32 (session 4: quantising everything cost 0.68 F1 on SQuAD 1.1
    # dev, keeping layers 0 and 5 fp32 0.37, at 2.1x rather than 2.5x fp32's speed; MODEL_CARD.md).
    import onnx

    graph = onnx.load(str(fp32_path)).graph
    keep = (*tuple(f"/layer.{i}/" for i in fp32_layers), "qa_outputs")
    excluded = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and any(k in n.name for k in keep)]
    absent = [i for i in fp32_layers if not any(f"/layer.{i}/" in name for name in excluded)]
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
    return output / ONNX_INT8_FILE


def margins_on(reader, examples, headers: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(margin, F1 of the best span, answerable flag) for each example, read one passage at a time, under
    its header line when ``headers`` (one per example) are given."""
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
    from qa.reader import ReaderModel

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
    margins, f1s, answerable = margins_on(ReaderModel(output, backend=backend), examples, headers)
    threshold, best_f1 = choose_threshold(margins, f1s, answerable)
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
        help="encoder layers the int8 graph keeps in fp32 (default none: every layer int8; 0 5: the pre-session-12 "
        "graph, about 25%% slower a window)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    checkpoint, output = Path(args.checkpoint), Path(args.output)
    state = json.loads((checkpoint / "state.json").read_text())
    if args.skip_weights and tuple(args.fp32_layers) != FP32_LAYERS:
        parser.error("--fp32-layers changes the exported graph; it cannot be used with --skip-weights")
    if not args.skip_weights:
        export_weights(checkpoint, output)
        export_onnx_int8(output, tuple(args.fp32_layers))
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
