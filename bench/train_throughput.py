"""Training throughput of reader candidates on this CPU: fp32 against bf16 autocast.

``python bench/train_throughput.py [--models DIR ...] [--steps N]`` times full training steps (forward,
backward, AdamW) of a question-answering head on each base model, batch 32 at the training run's mean
window length, with random token ids (speed does not depend on the words). Writes
``bench/results/train_throughput.json``. This is the figure to know before a bigger base model is
ruled out: at N windows/s, one epoch of SQuAD 1.1 train (about 142,000 windows with our negatives) takes
142,000 / N seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EPOCH_WINDOWS = 141_911  # windows of one epoch of the reader-v2 run (training/train_reader.py's log)


def cpu_flags() -> list[str]:
    """The CPU's bf16 and int8 dot-product features, as /proc/cpuinfo names them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    wanted = ("avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "amx_int8")
    return sorted({flag for flag in text.split() if flag in wanted})


def time_steps(model_dir: str, *, dtype: str, steps: int, warmup: int, batch: int, length: int) -> dict:
    """Windows per second of ``steps`` timed training steps after ``warmup`` untimed ones."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(
            model_dir, attn_implementation="sdpa", dtype=torch.float32, local_files_only=True
        )
    except ValueError:  # MPNet has no SDPA attention in transformers 5
        model = AutoModelForQuestionAnswering.from_pretrained(
            model_dir, attn_implementation="eager", dtype=torch.float32, local_files_only=True
        )
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    vocab = model.config.vocab_size
    ids = torch.randint(1000, vocab - 1, (batch, length))
    mask = torch.ones_like(ids)
    starts = torch.randint(1, length - 1, (batch,))
    ends = torch.minimum(starts + 3, torch.full_like(starts, length - 1))

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            loss = model(input_ids=ids, attention_mask=mask, start_positions=starts, end_positions=ends).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    for _ in range(warmup):
        step()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - began
    windows_per_second = steps * batch / seconds
    return {
        "dtype": dtype,
        "parameters_millions": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "windows_per_second": round(windows_per_second, 2),
        "seconds_per_step": round(seconds / steps, 2),
        "hours_per_epoch": round(EPOCH_WINDOWS / windows_per_second / 3600, 1),
    }


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, help="base model folders (default: the packaged MiniLM)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=172, help="window length (the v2 run's mean)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=("fp32", "bf16"),
        default=["fp32", "bf16"],
        help="what to time (bf16 autocast is emulated, and very slow, on a CPU without avx512_bf16 or AMX)",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_throughput.json"))
    args = parser.parse_args(argv)
    import torch

    from embeddings.encoder import packaged_minilm_dir

    torch.set_num_threads(args.threads)
    models = args.models or [str(packaged_minilm_dir())]
    rows = []
    for model_dir in models:
        for dtype in args.dtypes:
            row = {
                "model": Path(model_dir).name,
                **time_steps(
                    model_dir, dtype=dtype, steps=args.steps, warmup=args.warmup, batch=args.batch, length=args.length
                ),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    result = {
        "rows": rows,
        "batch": args.batch,
        "length": args.length,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags": cpu_flags(),
        "torch": torch.__version__,
        "command": "python bench/train_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
