"""ONNX export: onnxruntime matches PyTorch for several batch sizes; failures are ExportErrors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from siamreid.errors import ExportError, InputError
from siamreid.export import Exporter, to_onnx, verify_onnx
from siamreid.models import SiameseEmbedder

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SIZE = (64, 32)


@pytest.fixture(scope="module")
def model(tiny_model_factory: Callable[..., SiameseEmbedder]) -> SiameseEmbedder:
    return tiny_model_factory(seed=0, calibrated=True)


@pytest.fixture(scope="module")
def exported(model: SiameseEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default exporter (torch.export based), dynamic batch, verified on export."""
    return to_onnx(model, tmp_path_factory.mktemp("onnx") / "reid.onnx")


def _run(path: Path, images: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["embeddings"], {"images": images.numpy()})[0]


def _torch(model: SiameseEmbedder, images: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.eval()(images).numpy()


@pytest.mark.parametrize("batch", [1, 7])
def test_onnxruntime_matches_pytorch(model: SiameseEmbedder, exported: Path, batch: int) -> None:
    images = torch.randn(batch, 3, *SIZE, generator=torch.Generator().manual_seed(batch))
    got = _run(exported, images)
    assert got.shape == (batch, 16)
    assert np.abs(got - _torch(model, images)).max() <= 1e-4


def test_export_leaves_the_model_as_it_was(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory(seed=1, calibrated=True)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    to_onnx(model, tmp_path / "m.onnx", exporter="torchscript")
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_metadata_describes_the_preprocessing(model: SiameseEmbedder, exported: Path) -> None:
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert json.loads(props["input_size"]) == list(SIZE)
    assert json.loads(props["mean"]) == list(model.data_config.mean)
    assert json.loads(props["std"]) == list(model.data_config.std)
    assert props["backbone"] == "test_efficientnet"
    assert props["embedding_dim"] == "16"
    assert props["metric"] == "cosine"


def test_exported_file_is_self_contained(exported: Path) -> None:
    assert sorted(p.name for p in exported.parent.iterdir()) == [exported.name]


def test_torchscript_exporter_with_a_fixed_batch(model: SiameseEmbedder, tmp_path: Path) -> None:
    path = to_onnx(
        model, tmp_path / "s.onnx", exporter="torchscript", dynamic_batch=False, batch_size=3
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [3, 3, *SIZE]
    images = torch.randn(3, 3, *SIZE)
    assert np.abs(_run(path, images) - _torch(model, images)).max() <= 1e-4


def test_verify_catches_a_model_that_differs(
    tiny_model_factory: Callable[..., SiameseEmbedder], exported: Path
) -> None:
    with pytest.raises(ExportError, match="disagrees with PyTorch: max abs difference"):
        verify_onnx(exported, tiny_model_factory(seed=2, calibrated=True))


def test_verify_reports_the_difference(model: SiameseEmbedder, exported: Path) -> None:
    assert 0.0 <= verify_onnx(exported, model, batch_sizes=(2,)) <= 1e-4


def test_exporter_failure_is_an_export_error(
    model: SiameseEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken)
    message = r"'test_efficientnet'.*unsupported operator.*exporter='torchscript'"
    with pytest.raises(ExportError, match=message):
        to_onnx(model, tmp_path / "x.onnx")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exporter": "tflite"}, "exporter is 'tflite'"),
        ({"batch_size": 0, "dynamic_batch": False}, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments_are_named(
    model: SiameseEmbedder, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ExportError, match=message):
        to_onnx(model, tmp_path / "x.onnx", **kwargs)  # type: ignore[arg-type]


def test_folder_as_output_is_refused(model: SiameseEmbedder, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="is a folder"):
        to_onnx(model, tmp_path)


def test_missing_file_is_named(model: SiameseEmbedder, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="No ONNX file at"):
        verify_onnx(tmp_path / "none.onnx", model)


@pytest.mark.parametrize(("exporter", "opset"), [("torchscript", 11), ("dynamo", 20)])
def test_the_file_holds_the_opset_asked_for(
    model: SiameseEmbedder, tmp_path: Path, exporter: Exporter, opset: int
) -> None:
    path = to_onnx(model, tmp_path / "m.onnx", exporter=exporter, opset=opset)
    versions = {o.domain: o.version for o in onnx.load(str(path)).opset_import}
    assert versions[""] == opset


@pytest.mark.parametrize(("exporter", "opset"), [("dynamo", 11), ("torchscript", 21)])
def test_an_opset_the_exporter_would_not_write_is_refused(
    model: SiameseEmbedder, tmp_path: Path, exporter: Exporter, opset: int
) -> None:
    # torch's dynamo exporter asked for opset 11 writes opset 18 and only logs it
    with pytest.raises(InputError, match=rf"opset is {opset}; the {exporter} exporter writes"):
        to_onnx(model, tmp_path / "m.onnx", exporter=exporter, opset=opset)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("atol", [0.0, -1e-4, float("nan"), float("inf")])
def test_atol_must_be_positive(model: SiameseEmbedder, exported: Path, atol: float) -> None:
    with pytest.raises(InputError, match="atol must be a positive finite number"):
        verify_onnx(exported, model, atol=atol)


def test_a_failed_verification_keeps_the_old_file(
    tiny_model_factory: Callable[..., SiameseEmbedder], exported: Path, tmp_path: Path
) -> None:
    target = tmp_path / "reid.onnx"
    shutil.copy(exported, target)
    old = target.read_bytes()
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        # onnxruntime and PyTorch differ by ~1e-7 here: atol 1e-30 rejects the new file
        to_onnx(tiny_model_factory(seed=3), target, exporter="torchscript", atol=1e-30)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reid.onnx"]


def test_a_failed_export_keeps_the_old_file(
    model: SiameseEmbedder, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "reid.onnx"
    shutil.copy(exported, target)
    old = target.read_bytes()

    def half_written(net: object, args: object, f: object, **kwargs: object) -> None:
        if isinstance(f, (str, Path)):  # an exporter that writes the target itself
            Path(f).write_bytes(b"\x08\x07 half a model")
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", half_written)
    with pytest.raises(ExportError, match="unsupported operator"):
        to_onnx(model, target, exporter="torchscript")
    assert target.read_bytes() == old
