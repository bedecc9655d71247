"""Regenerate the figures the README shows, so that they stay true: ``make docs`` (``python docs/make_docs.py``).

Runs ``python -m eval`` over both gold files, rewrites the score table between the markers in ``README.md``
from the fresh reports (with the SQuAD figures of record from ``bench/results/reader_squad_with_rereader.json``,
which take an hour to measure: ``python bench/reader_squad.py --rereader models/rereader``), and takes a
screenshot of the page answering a question: a real ``qa serve`` over ``index/``, driven by Debian's Chromium
through Playwright, written to ``docs/images/answer.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import decimal
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCREENSHOT = ROOT / "docs" / "images" / "answer.png"
SQUAD_RESULTS = ROOT / "bench" / "results" / "reader_squad_with_rereader.json"
START = "<!-- scores: start (written by make docs) -->"
END = "<!-- scores: end -->"
# (the eval's report folder for a gold file, the row's label)
GOLD_ROWS = (
    ("gold", "`eval/gold.jsonl`: worded close to the articles"),
    ("gold_hard", "`eval/gold_hard.jsonl`: own words, near-misses"),
)
QUESTION = "How many US troops were on the ground in Iraq?"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SERVER_START_SECONDS = 300.0
ANSWER_SECONDS = 300.0


def project_version() -> str:
    """The version ``pyproject.toml`` states."""
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def run_eval(out: Path) -> None:
    """``python -m eval --out OUT`` over both gold files (reports in ``OUT/gold`` and ``OUT/gold_hard``)."""
    subprocess.run([sys.executable, "-m", "eval", "--out", str(out)], cwd=ROOT, check=True)


def scores_table(eval_dir: Path, squad_results: Path, *, version: str, day: datetime.date) -> str:
    """The README's score table (Markdown) from the eval reports in ``eval_dir`` and the SQuAD results file."""
    lines = [
        "| question set | questions | F1 | answerable: F1 | unanswerable: abstained | confidence AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for folder, label in GOLD_ROWS:
        summary = json.loads((eval_dir / folder / "report.json").read_text(encoding="utf-8"))["summary"]
        lines.append(
            f"| {label} | {summary['questions']} | **{summary['F1']:.4f}** | {summary['HasAns_F1']:.3f} "
            f"| {summary['NoAns_accuracy']:.3f} | {summary['confidence_auroc']:.3f} |"
        )
    squad = json.loads(squad_results.read_text(encoding="utf-8"))
    one, two = squad["squad1_dev"], squad["squad2_dev"]
    lines += [
        "",
        f"Version {version}, `python -m eval` on {day.isoformat()}. SQuAD dev, each question's own paragraph as the",
        f"pipeline reads it: 1.1 F1 {_one_place(one['F1'])}; 2.0 F1 {_one_place(two['F1'])} (answerable "
        f"{_one_place(two['HasAns_F1'])}, unanswerable abstained {_one_place(two['NoAns_accuracy'])}%).",
    ]
    return "\n".join(lines)


def _one_place(value: float) -> str:
    """``value`` to one decimal place, halves rounded up as people do (38.25 -> "38.3"; Python's round gives 38.2)."""
    return str(decimal.Decimal(str(value)).quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP))


def replace_between_markers(text: str, body: str) -> str:
    """``text`` with what lies between the score markers replaced by ``body``; ValueError without markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the markers {START!r} ... {END!r}")
    return text[: start + len(START)] + "\n" + body + "\n" + text[end:]


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_page(log_path: Path) -> Iterator[str]:
    """Run ``qa serve`` (corpus watching off) on a free loopback port; yield its URL; stop it afterwards."""
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--watch-seconds", "0"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"qa serve exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"qa serve did not start in {SERVER_START_SECONDS:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def take_screenshot(target: Path, question: str = QUESTION) -> None:
    """Ask ``question`` on the served page and save a full-page screenshot to ``target`` (replaced whole)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("Chromium is missing: apt-get install -y chromium (make docs does this)")
    with tempfile.TemporaryDirectory() as scratch:
        shot = Path(scratch) / "answer.png"
        with served_page(Path(scratch) / "serve.log") as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url, wait_until="networkidle")
            box = page.locator("#qa-question textarea")
            box.fill(question)
            box.press("Enter")
            page.wait_for_selector("#qa-answer-text", timeout=ANSWER_SECONDS * 1000)
            page.wait_for_timeout(500)  # let the answer's layout settle
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(shot, partial)
        os.replace(partial, target)


def main(argv: list[str] | None = None) -> int:
    """Run the eval and the screenshot, rewrite the README's score table; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python docs/make_docs.py", description=__doc__)
    parser.add_argument("--eval-out", default="eval/report", help="folder for the eval's reports")
    parser.add_argument("--skip-eval", action="store_true", help="use the reports already in --eval-out")
    parser.add_argument("--skip-screenshot", action="store_true", help="keep docs/images/answer.png as it is")
    args = parser.parse_args(argv)
    eval_dir = ROOT / args.eval_out
    if not args.skip_eval:
        run_eval(eval_dir)
    table = scores_table(eval_dir, SQUAD_RESULTS, version=project_version(), day=datetime.date.today())
    README.write_text(replace_between_markers(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    print(f"README.md: score table rewritten from {eval_dir}")
    if not args.skip_screenshot:
        take_screenshot(SCREENSHOT)
        print(f"{SCREENSHOT.relative_to(ROOT)}: the page answering {QUESTION!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
