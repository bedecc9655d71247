"""A LoRA reader run: it is stopped and resumed many times, on other machines, so N steps straight and N/2 steps, a
stop, then ``--resume`` for the rest must give the same weights, and a save holds only what trains; it exports as a
reader whose answerability head joins the no-answer decision."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import MPNetConfig, MPNetForQuestionAnswering

from embeddings.encoder import packaged_minilm_dir
from tests.conftest import PROJECT_ROOT
from training.export_reader import TOKENIZER_FILES
from training.lora import add_answerability_head, add_lora, merge_lora, read_batch
from training.train_reader import ADAPTER_FILE, PID_FILE, main

PARAGRAPHS = [
    "Nikola Tesla moved to Paris in 1882 to work for the Continental Edison Company. He later sailed to New York.",
    "The Danube flows through Vienna and Budapest before it reaches the Black Sea in Romania.",
    "Marie Curie won the Nobel Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911.",
]
QUESTIONS = [
    ("Where did Tesla move in 1882?", "Paris"),
    ("Which sea does the Danube reach?", "the Black Sea"),
    ("When did Curie win the chemistry prize?", "1911"),
]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A 2-layer random MPNet reader with the packaged word-piece tokenizer, and a small SQuAD file."""
    folder = tmp_path_factory.mktemp("tiny_base")
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    MPNetForQuestionAnswering(config).save_pretrained(folder / "base")
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_minilm_dir() / name, folder / "base" / name)
    articles = []
    for a in range(4):
        paragraphs: list[dict] = []
        for context, (question, answer) in zip(PARAGRAPHS, QUESTIONS, strict=True):
            answers = [{"text": answer, "answer_start": context.index(answer)}]
            qa = {"id": f"{a}-{len(paragraphs)}", "question": question, "answers": answers}
            paragraphs.append({"context": context, "qas": [qa]})
        articles.append({"title": f"Article {a}", "paragraphs": paragraphs})
    (folder / "train.json").write_text(json.dumps({"data": articles}))
    return folder


def _train(tiny_base, output, *extra):
    main(
        [
            "--train", str(tiny_base / "train.json"), "--base", str(tiny_base / "base"), "--output", str(output),
            "--lora-rank", "4", "--lora-layers", "1", "--lora-dropout", "0.1", "--answerability-weight", "0.5",
            "--negative-ratio", "0.5", "--batch-size", "2", "--epochs", "2", "--lr", "1e-2", "--max-length", "64",
            "--stride", "16", "--heldout-articles", "1", "--eval-every-steps", "3", "--threads", "1",
            *extra,
        ]
    )  # fmt: skip


def test_a_stopped_and_resumed_lora_run_trains_exactly_as_one_run(tiny_base, tmp_path):
    _train(tiny_base, tmp_path / "straight")
    _train(tiny_base, tmp_path / "resumed", "--stop-after-steps", "5")
    assert not (tmp_path / "resumed" / PID_FILE).exists()  # removed when the trainer exits
    halfway = json.loads((tmp_path / "resumed" / "state.json").read_text())
    assert halfway["step"] == 5
    _train(tiny_base, tmp_path / "resumed", "--resume")
    straight = load_file(tmp_path / "straight" / ADAPTER_FILE)
    resumed = load_file(tmp_path / "resumed" / ADAPTER_FILE)
    state = json.loads((tmp_path / "straight" / "state.json").read_text())
    assert state["step"] > 5 and json.loads((tmp_path / "resumed" / "state.json").read_text())["step"] == state["step"]
    assert straight.keys() == resumed.keys()
    assert any(name.endswith("lora_a") for name in straight) and "answerability.weight" in straight
    assert not any("layer.0." in name for name in straight)  # the bottom block is frozen, not saved
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    assert not (tmp_path / "straight" / PID_FILE).exists()  # removed when the trainer exits
    assert "model.safetensors" not in {p.name for p in (tmp_path / "straight").iterdir()}
    assert "head_no_ans_acc@0" in state["curve"][-1]


def test_resume_refuses_a_changed_schedule(tiny_base, tmp_path):
    _train(tiny_base, tmp_path / "run", "--stop-after-steps", "2")
    with pytest.raises(SystemExit, match="--lr"):
        _train(tiny_base, tmp_path / "run", "--resume", "--lr", "5e-3")


def test_merged_adapters_compute_what_the_adapted_model_computes(tiny_base):
    torch.manual_seed(1)
    model = MPNetForQuestionAnswering.from_pretrained(tiny_base / "base")
    add_lora(model, rank=4, layers=2, alpha=8, dropout=0.1)
    add_answerability_head(model)
    for param in model.parameters():
        if param.requires_grad:
            torch.nn.init.normal_(param, std=0.1)  # lora_b starts at zero: give the adapters an effect
    model.eval()
    batch = {"input_ids": torch.tensor([[0, 100, 200, 300, 2]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    before = read_batch(model, batch)
    assert merge_lora(model) == 2 * 6  # q, k, v, o, intermediate and output of both blocks
    after = read_batch(model, batch)
    assert torch.allclose(before.start_logits, after.start_logits, atol=1e-5)
    assert torch.allclose(before.answerable_logits, after.answerable_logits, atol=1e-5)


def test_a_lora_run_exports_as_a_reader_whose_answerability_head_joins_the_decision(tiny_base, tmp_path):
    from qa.reader import ONNX_INT8_FILE, ReaderModel, _read_calibration
    from training.export_reader import (
        export_onnx_int8,
        export_weights,
        materialise_run,
        split_external_data,
    )

    _train(tiny_base, tmp_path / "run", "--stop-after-steps", "4")
    merged = materialise_run(tmp_path / "run", tmp_path / "merged")
    reader_dir = tmp_path / "reader"
    export_weights(merged, reader_dir)
    graph = export_onnx_int8(reader_dir)
    passage = PARAGRAPHS[0]
    readings = {}
    for backend in ("fp32", "onnx-int8"):
        candidates = ReaderModel(reader_dir, backend=backend).read(QUESTIONS[0][0], [passage])
        assert candidates and all(c.answerability is not None for c in candidates), backend
        readings[backend] = candidates[0]
    fp32, int8 = readings["fp32"].answerability, readings["onnx-int8"].answerability
    assert fp32 is not None and int8 is not None and abs(fp32 - int8) < 0.5  # int8 rounding only

    # The calibrated weight lowers the no-answer score by weight x the answerability logit.
    (reader_dir / "calibration.json").write_text(
        json.dumps({"threshold": 0, "slope": 1, "intercept": 0, "backend": "fp32", "answerability_weight": 2.0})
    )
    _read_calibration.cache_clear()
    weighted = ReaderModel(reader_dir, backend="fp32").read(QUESTIONS[0][0], [passage])[0]
    raw = readings["fp32"]
    assert weighted.null_score == pytest.approx(raw.null_score - 2.0 * fp32, abs=1e-4)

    # A graph over the size limit is split into external-data files that ONNX Runtime reads back.
    files = split_external_data(graph, max_bytes=20_000)
    largest = max(f.stat().st_size for f in files)
    assert len(files) > 1 and all(f.stat().st_size <= 20_000 for f in files if f.stat().st_size != largest)
    assert graph.stat().st_size < sum(f.stat().st_size for f in files) / 5  # the weights moved out
    split = ReaderModel(reader_dir, backend="onnx-int8").read(QUESTIONS[0][0], [passage])[0]
    assert split.score == pytest.approx(readings["onnx-int8"].score) and split.text == readings["onnx-int8"].text
    assert graph.name == ONNX_INT8_FILE


def test_the_weight_of_the_answerability_logit_is_fitted_with_the_threshold():
    import numpy as np

    from training.export_reader import choose_weight_and_threshold

    # Margins alone cannot separate: the right answers and the unanswerable ones share margins; the head can.
    margins = np.array([1.0, 2.0, 1.0, 2.0])
    logits = np.array([3.0, 3.0, -3.0, -3.0])
    f1s = np.array([1.0, 1.0, 0.0, 0.0])
    answerable = np.array([True, True, False, False])
    weight, threshold, score = choose_weight_and_threshold(margins, logits, f1s, answerable)
    assert weight > 0 and score == 1.0
    assert all((margins + weight * logits > threshold) == answerable)
    assert choose_weight_and_threshold(margins, np.zeros(4), f1s, answerable)[0] == 0.0


def test_the_trainer_saves_on_sigusr1_and_saves_and_exits_on_sigterm(tiny_base, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    output = tmp_path / "run"
    command = [
        sys.executable, "-m", "training.train_reader", "--train", str(tiny_base / "train.json"),
        "--base", str(tiny_base / "base"), "--output", str(output), "--lora-rank", "4", "--lora-layers", "1",
        "--batch-size", "2", "--epochs", "100000", "--max-length", "64", "--stride", "16", "--heldout-articles", "1",
        "--eval-every-steps", "1000000", "--checkpoint-every-minutes", "1000", "--threads", "1",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        pid_file, state_file = output / PID_FILE, output / "state.json"
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert int(pid_file.read_text()) == process.pid
        time.sleep(2)  # some steps
        os.kill(process.pid, signal.SIGUSR1)
        asked = time.monotonic()
        while not state_file.exists() and time.monotonic() - asked < 30:
            time.sleep(0.1)
        first = json.loads(state_file.read_text())["step"]
        assert first > 0 and process.poll() is None  # saved within 30 s, still training
        assert int(pid_file.read_text()) == process.pid  # the save replaced the folder; the pid file is back
        time.sleep(1)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert json.loads(state_file.read_text())["step"] > first  # saved again on the way out
        assert not pid_file.exists()
    finally:
        if process.poll() is None:
            process.kill()
