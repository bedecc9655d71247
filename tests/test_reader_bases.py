"""A reader on another base than MiniLM (``train_reader --base``): MPNet takes no segment ids, so training,
export and both inference backends must run without them. A tiny random MPNet stands in for
all-mpnet-base-v2, which is not shipped."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, MPNetConfig, MPNetForQuestionAnswering

from embeddings.encoder import packaged_minilm_dir
from qa.reader import ONNX_INT8_FILE, ReaderModel
from training.export_reader import TOKENIZER_FILES, export_onnx_int8
from training.squad_data import QAExample, tokenize_for_training
from training.train_reader import collate, load_qa_model

PASSAGE = "Nikola Tesla moved to Paris in 1882 to work for the Continental Edison Company."


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory):
    """A 2-layer random MPNet reader saved with the packaged word-piece tokenizer (same vocabulary size)."""
    folder = tmp_path_factory.mktemp("tiny_mpnet")
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    MPNetForQuestionAnswering(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_minilm_dir() / name, folder / name)
    return folder


def test_training_windows_without_segment_ids_train_a_model_that_takes_none(tiny_mpnet):
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir(), model_input_names=["input_ids", "attention_mask"])
    example = QAExample("q", "Where did Tesla move in 1882?", PASSAGE, ("Paris",), PASSAGE.index("Paris"), "pos")
    windows = tokenize_for_training([example], tokenizer, max_length=64, stride=16)
    assert not windows.token_type_ids[0].any()  # no segment ids from the tokenizer: a zero row
    batch = collate(windows, np.array([0]), tokenizer.pad_token_id, token_types=False)
    assert "token_type_ids" not in batch
    model = load_qa_model(tiny_mpnet)  # MPNet has no SDPA attention: loads eager
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    start = int(windows.start_positions[0])
    ids = windows.input_ids[0]
    assert str(tokenizer.decode(ids[start : int(windows.end_positions[0]) + 1])).lower() == "paris"


def test_an_mpnet_reader_exports_without_segment_input_and_reads_on_both_backends(tiny_mpnet, tmp_path):
    import onnx

    folder = tmp_path / "reader"
    shutil.copytree(tiny_mpnet, folder)
    export_onnx_int8(folder)
    inputs = {i.name for i in onnx.load(str(folder / ONNX_INT8_FILE)).graph.input}
    assert inputs == {"input_ids", "attention_mask"}
    for backend in ("onnx-int8", "fp32"):
        candidates = ReaderModel(folder, backend=backend).read(
            "Where did Tesla move?", [PASSAGE], headers=["Tesla (1 May 1882)"]
        )
        assert candidates, backend
        for candidate in candidates:  # spans are in the passage, never in the header line
            assert PASSAGE[candidate.start : candidate.end] == candidate.text
