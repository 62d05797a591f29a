"""``siamreid export --boxmot``: ImageNet input normalisation and BoxMOT's sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Runner

ort = pytest.importorskip("onnxruntime")


def test_boxmot_export_writes_the_sidecar(cli: Runner, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "reid.onnx"
    result = cli(
        "export", "--checkpoint", checkpoint, "--onnx", out, "--exporter", "torchscript", "--boxmot"
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
    result = cli(
        "export", "--checkpoint", checkpoint, "--onnx", tmp_path / name, "--boxmot", *extra
    )
    assert result.code != 0
    assert message in result.err
    assert not list(tmp_path.iterdir())
