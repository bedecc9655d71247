"""Load test: 8 concurrent gradio_client users send 200 questions in total to the real page on 127.0.0.1.

Checks zero errors and that every answer equals the single-user answer to the same question, and
reports latency p50/p95. Bounded: 200 requests, 15-minute cap; traffic only to loopback.
Run: ``python bench/loadtest.py [--clients 8] [--requests 200]`` (or ``make loadtest``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.scoring import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "How many Hellfire missiles were sold to Iraq?",
    "When did ISIS capture Mosul?",
    "Who is the Pentagon press secretary?",
    "How much did the US military spend to train the Iraqi army?",
    "Who won the 2014 World Cup?",
    "How many US troops were on the ground in Iraq?",
    "Who is the Turkish foreign minister?",
    "What is the population of Mosul?",
    "Which city did the peshmerga take?",
    "How many Iraqis were killed in October?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--deadline-seconds", type=float, default=900)
    parser.add_argument("--out", default="bench/results/loadtest.json")
    args = parser.parse_args()
    from gradio_client import Client

    from tests.real_system import build_real_index, running_server

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = build_real_index(Path(tmp) / "index")
        with running_server(index_dir) as url:
            single = Client(url, verbose=False)
            expected = {q: single.predict(q, 5, "hybrid", api_name="/ask")[0] for q in QUESTIONS}
            plan = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.requests)]
            clients = [Client(url, verbose=False) for _ in range(args.clients)]
            lock, latencies, errors, mismatches = threading.Lock(), [], [], []
            began = time.monotonic()

            def one(job: tuple[int, str]) -> None:
                index, question = job
                if time.monotonic() - began > args.deadline_seconds:
                    with lock:
                        errors.append((index, "deadline passed"))
                    return
                started = time.perf_counter()
                try:
                    answer_html = clients[index % args.clients].predict(question, 5, "hybrid", api_name="/ask")[0]
                except Exception as error:
                    with lock:
                        errors.append((index, repr(error)[:200]))
                    return
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if answer_html != expected[question]:
                        mismatches.append((index, question))

            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(pool.map(one, enumerate(plan)))
            wall = time.monotonic() - began
    latencies.sort()
    result = {
        "clients": args.clients,
        "requests": args.requests,
        "completed": len(latencies),
        "errors": len(errors),
        "answers_differing_from_single_user": len(mismatches),
        "wall_seconds": round(wall, 1),
        "throughput_rps": round(len(latencies) / wall, 2),
        "latency_p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "error_samples": errors[:5],
        "command": "python bench/loadtest.py",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0 if not errors and not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
