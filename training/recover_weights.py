"""Rebuild a BERT reader's float weights from its shipped ONNX int8 graph, so a reader shipped as ONNX only
(``models/rereader``) can be trained further with ``train_reader --init``.

``export_reader`` quantises with ONNX Runtime's dynamic quantiser: every encoder ``MatMul`` weight becomes an
int8 tensor with a per-output-channel scale and zero point, read by a ``MatMulInteger`` node named after
its module (``/inner/bert/encoder/layer.3/intermediate/dense/MatMul_quant``); the embedding tables become
uint8 with one scale; biases, LayerNorms and the span head stay fp32 under their parameter names (prefixed
``inner.``). Dequantising gives back the weights the int8 graph computes with (within half a quantisation
step of the trained ones), which is what a warm start needs.

Run: ``python -m training.recover_weights models/rereader checkpoints/rereader-fp`` (writes config,
tokenizer files and fp32 ``model.safetensors``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from qa.reader import ONNX_INT8_FILE
from training.export_reader import TOKENIZER_FILES

PREFIX = "inner."
MATMUL_SUFFIX = "/MatMul_quant"


def dequantize(values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """``(values - zero_point) * scale`` in float32; a per-channel scale and zero point apply to the last
    axis (the output channels of an ONNX ``MatMul`` weight)."""
    return (values.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)


def _scale_and_zero(tensors: dict[str, np.ndarray], base: str) -> tuple[np.ndarray, np.ndarray]:
    """The scale and zero point stored beside the quantised tensor ``base``; ``ValueError`` when absent."""
    try:
        return tensors[base + "_scale"], tensors[base + "_zero_point"]
    except KeyError:
        raise ValueError(f"the graph has no scale or zero point for {base}") from None


def float_weights(graph_path: Path) -> dict[str, np.ndarray]:
    """The model's parameters (transformers' names and shapes) recovered from an int8 ONNX reader graph.
    Raises ``ValueError`` when the graph holds a quantised tensor it cannot place."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph_path))
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.startswith(PREFIX) and not name.endswith(("_quantized", "_scale", "_zero_point")):
            weights[name.removeprefix(PREFIX)] = value.astype(np.float32)
        elif name.startswith(PREFIX) and name.endswith("_quantized"):  # an embedding table, one scale
            base = name.removesuffix("_quantized")
            weights[base.removeprefix(PREFIX)] = dequantize(value, *_scale_and_zero(tensors, base))
    placed: set[str] = set()
    for node in model.graph.node:
        if node.op_type == "MatMulInteger" and node.name.endswith(MATMUL_SUFFIX):
            quantized = node.input[1]
            base = quantized.removesuffix("_quantized")
            module = node.name.removeprefix("/" + PREFIX.rstrip(".") + "/").removesuffix(MATMUL_SUFFIX)
            matrix = dequantize(tensors[quantized], *_scale_and_zero(tensors, base))
            weights[module.replace("/", ".") + ".weight"] = matrix.T.copy()  # ONNX [in, out] -> torch [out, in]
            placed.add(quantized)
        elif node.op_type == "MatMul" and any(i in tensors and not i.startswith(PREFIX) for i in node.input):
            # A float MatMul on a weight: the span head, and any layer exported with ``--fp32-layers``.
            weight = next(i for i in node.input if i in tensors)
            module = node.name.removeprefix("/" + PREFIX.rstrip(".") + "/").rsplit("/", 1)[0]
            weights[module.replace("/", ".") + ".weight"] = tensors[weight].T.astype(np.float32).copy()
    stray = [n for n in tensors if n.endswith("_quantized") and not n.startswith(PREFIX) and n not in placed]
    if stray:
        raise ValueError(f"quantised tensors with no MatMulInteger of a known module: {stray[:3]}")
    return weights


def recover(reader_dir: Path, output: Path) -> Path:
    """Write ``output`` as a transformers folder (config, tokenizer files, fp32 safetensors) holding the
    weights of ``reader_dir``'s int8 graph. Raises ``SystemExit`` when they do not fit the folder's config."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    config = AutoConfig.from_pretrained(reader_dir)
    config.dtype = "float32"
    expected = AutoModelForQuestionAnswering.from_config(config).state_dict()
    weights = float_weights(reader_dir / ONNX_INT8_FILE)
    missing = [k for k in expected if k not in weights and not k.endswith("position_ids")]
    wrong = [k for k in expected if k in weights and tuple(expected[k].shape) != weights[k].shape]
    if missing or wrong:
        raise SystemExit(f"cannot rebuild {reader_dir}: missing {missing[:3]}, wrong shapes {wrong[:3]}")
    output.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(output)
    save_file({k: torch.from_numpy(weights[k]) for k in expected if k in weights}, str(output / "model.safetensors"))
    for name in TOKENIZER_FILES:
        shutil.copyfile(reader_dir / name, output / name)
    return output


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reader", type=Path, help="a reader folder holding model_int8.onnx and config.json")
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    print(recover(args.reader, args.output))


if __name__ == "__main__":
    main()
