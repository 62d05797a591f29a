"""ONNX export of a model with the re-id tricks (GeM pooling, last stride 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from siamreid.export import to_onnx
from siamreid.models import SiameseEmbedder

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SIZE = (64, 32)


def test_gem_and_last_stride_export(tmp_path: Path) -> None:
    model = SiameseEmbedder(
        "test_resnet", 16, pretrained=False, input_size=SIZE, pooling="gem", last_stride=1, seed=0
    )
    with torch.no_grad():
        model.backbone.global_pool.p.fill_(3.7)  # a learned exponent, not the initial 3
        model.train()(torch.randn(8, 3, *SIZE))
    model.eval()
    path = to_onnx(model, tmp_path / "reid.onnx")
    images = torch.rand(5, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["embeddings"], {"images": images.numpy()})[0]
    with torch.inference_mode():
        expected = model(images).numpy()
    assert np.abs(got - expected).max() <= 1e-4
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (meta["pooling"], json.loads(meta["last_stride"])) == ("gem", 1)
