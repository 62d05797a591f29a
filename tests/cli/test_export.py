"""``siamreid export``: the file runs in onnxruntime and matches PyTorch; ``--boxmot`` adds the
ImageNet input normalisation and BoxMOT's sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import Runner

from siamreid.models import SiameseEmbedder

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def test_export_writes_a_matching_onnx_file(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "reid.onnx"
    result = cli("export", "--checkpoint", checkpoint, "--out", out, "--exporter", "torchscript")
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
    args = ["--checkpoint", checkpoint, "--out", out, "--exporter", "torchscript"]
    result = cli("export", *args, "--static-batch", 4)
    assert result.code == 0, result.err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [4, 3, 64, 32]


def test_boxmot_export_writes_the_sidecar(cli: Runner, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "reid.onnx"
    result = cli(
        "export", "--checkpoint", checkpoint, "--out", out, "--exporter", "torchscript", "--boxmot"
    )
    assert result.code == 0, result.err
    assert "imagenet input normalisation" in result.out
    sidecar = json.loads((tmp_path / "reid.onnx.metadata.json").read_text("utf-8"))
    assert sidecar["model_kwargs"] == {"img_size": [64, 32]}
    assert sidecar["preprocess"] == "resize"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["input_norm"] == "imagenet"
    assert session.get_inputs()[0].shape == ["batch", 3, 64, 32]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input-norm", "model"], "--boxmot needs --input-norm imagenet"),
        ([], "does not end in .onnx"),
    ],
)
def test_boxmot_export_refuses_what_boxmot_cannot_load(
    cli: Runner, checkpoint: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    name = "reid.onnx" if extra else "reid.bin"
    result = cli("export", "--checkpoint", checkpoint, "--out", tmp_path / name, "--boxmot", *extra)
    assert result.code != 0
    assert message in result.err
    assert not list(tmp_path.iterdir())


def test_export_writes_and_prints_the_opset_asked_for(
    cli: Runner, checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "old.onnx"
    args = ["--checkpoint", checkpoint, "--out", out, "--exporter", "torchscript"]
    result = cli("export", *args, "--opset", 11)
    assert result.code == 0, result.err
    assert "opset 11," in result.out
    assert {o.domain: o.version for o in onnx.load(str(out)).opset_import}[""] == 11


def test_export_refuses_an_opset_the_exporter_would_not_write(
    cli: Runner, checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "old.onnx"
    result = cli("export", "--checkpoint", checkpoint, "--out", out, "--opset", 11)
    assert result.code == 2
    assert "opset is 11; the dynamo exporter writes opsets 18.." in result.err
    assert "exporter='torchscript'" in result.err
    assert not out.exists()


@pytest.mark.parametrize("atol", ["0", "-1e-4", "nan", "inf", "tiny"])
def test_export_atol_must_be_a_positive_number(
    cli: Runner, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], atol: str
) -> None:
    out = tmp_path / "m.onnx"
    with pytest.raises(SystemExit) as exit_info:
        cli("export", "--checkpoint", checkpoint, "--out", out, f"--atol={atol}")
    assert exit_info.value.code == 2
    assert "argument --atol:" in capsys.readouterr().err
    assert not out.exists()
