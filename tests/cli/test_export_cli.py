"""``siamreid export``: the file runs in onnxruntime and matches PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import Runner

from siamreid.models import SiameseEmbedder

ort = pytest.importorskip("onnxruntime")


def test_export_writes_a_matching_onnx_file(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "reid.onnx"
    result = cli("export", "--checkpoint", checkpoint, "--onnx", out, "--exporter", "torchscript")
    assert result.code == 0, result.err
    assert "onnxruntime matches PyTorch on batches (1, 7)" in result.out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    images = torch.randn(3, 3, 64, 32)
    got = session.run(None, {"images": images.numpy()})[0]
    with torch.inference_mode():
        expected = tiny_model(images).numpy()
    assert np.abs(got - expected).max() <= 1e-4


def test_static_batch_export_fixes_the_batch(cli: Runner, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "static.onnx"
    args = ["--checkpoint", checkpoint, "--onnx", out, "--exporter", "torchscript"]
    result = cli("export", *args, "--static-batch", 4)
    assert result.code == 0, result.err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [4, 3, 64, 32]
