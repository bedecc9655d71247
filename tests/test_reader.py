"""Reader set-up that needs no trained weights: backends, calibration file, missing files."""

from __future__ import annotations

import json
import shutil

import pytest

import qa
from qa.reader import BACKENDS, ONNX_INT8_FILE, ReaderModel, _read_calibration
from tests.conftest import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "models" / "reader"


def _copy_without(tmp_path, *missing: str):
    folder = tmp_path / "reader"
    folder.mkdir()
    for path in SHIPPED.iterdir():
        if path.is_file() and path.name not in missing and path.suffix in (".json", ".txt"):
            shutil.copyfile(path, folder / path.name)
    return folder


def test_default_backend_is_the_one_the_threshold_was_calibrated_with(tmp_path):
    folder = _copy_without(tmp_path)
    data = json.loads((folder / "calibration.json").read_text())
    for backend in ("fp32", "onnx-int8"):
        target = tmp_path / backend
        shutil.copytree(folder, target)
        (target / "calibration.json").write_text(json.dumps({**data, "backend": backend}))
        assert ReaderModel(target).backend == backend
        assert ReaderModel(target, backend="int8").backend == "int8"
    assert ReaderModel(tmp_path / "nothing").backend == "fp32"  # no calibration file: plain fp32


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="onnx-int8"):
        ReaderModel(SHIPPED, backend="tensorrt")
    assert set(BACKENDS) == {"fp32", "int8", "onnx-int8"}


@pytest.mark.parametrize(("backend", "missing"), [("onnx-int8", ONNX_INT8_FILE), ("fp32", "model.safetensors")])
def test_missing_weights_of_the_chosen_backend_are_a_typed_error(tmp_path, backend, missing):
    folder = _copy_without(tmp_path)  # config, tokenizer and calibration, no weights
    with pytest.raises(qa.ReaderModelMissingError, match=missing):
        ReaderModel(folder, backend=backend).load()


def test_calibration_records_how_passages_are_read(tmp_path):
    (tmp_path / "calibration.json").write_text(json.dumps({"threshold": 1.5, "slope": 0.2, "intercept": -1.0}))
    old = _read_calibration(tmp_path)
    assert (old.threshold, old.passage_header, old.backend) == (1.5, False, "fp32")  # files from before both fields
    other = tmp_path / "other"
    other.mkdir()
    (other / "calibration.json").write_text(
        json.dumps({"threshold": 2.0, "slope": 0.2, "intercept": -1.0, "passage_header": True, "backend": "onnx-int8"})
    )
    new = _read_calibration(other)
    assert (new.passage_header, new.backend) == (True, "onnx-int8")
