"""BoxMOT drop-in: siamreid's ONNX export runs unchanged in BoxMOT's re-id runtime and trackers.

BoxMOT feeds every ONNX re-id model BGR crops turned RGB, resized (bilinear) to the graph's
H x W, scaled to [0, 1] and normalised with ImageNet mean/std. Its features must equal
``SiameseEmbedder.embed`` on the same crops, also for a backbone trained with other statistics
(timm's ``test_vit``: mean/std 0.5), whose export folds the difference into the graph.

``siamreid[boxmot]`` (in ``all``) installs BoxMOT on Python 3.11+; on 3.10 these tests skip,
since BoxMOT 25's ONNX backend needs onnxruntime 1.24.3, which has no Python 3.10 wheels.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import ExportError
from siamreid.export import to_boxmot, to_onnx, verify_onnx, write_boxmot_metadata
from siamreid.export._normalisation import InputRenorm
from siamreid.models import SiameseEmbedder

ort = pytest.importorskip("onnxruntime")
boxmot = pytest.importorskip("boxmot")
from boxmot.reid.core.artifacts import read_artifact_metadata  # noqa: E402
from boxmot.reid.core.registry import ReIDModelRegistry  # noqa: E402
from boxmot.reid.core.runtime import ReID  # noqa: E402
from boxmot.utils.checks import RequirementsChecker  # noqa: E402

SIZE = (64, 32)
DIM = 32


@pytest.fixture(autouse=True)
def _no_installs_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """BoxMOT pip-installs a runtime it finds missing or at another version; ours must fit."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"BoxMOT tried to install packages at run time: {args}")

    monkeypatch.setattr(RequirementsChecker, "_install_packages", refuse)
    monkeypatch.setattr(RequirementsChecker, "_run_install", refuse)


def _crops(count: int, scale: int, seed: int) -> list[np.ndarray]:
    """BGR uint8 crops of blocky colour patterns, ``scale`` times the model's input size."""
    rng = np.random.default_rng(seed)
    height, width = SIZE[0] // 8, SIZE[1] // 8
    blocks = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    step = 8 * scale
    return [np.ascontiguousarray(b.repeat(step, axis=0).repeat(step, axis=1)) for b in blocks]


def _cosines(model: SiameseEmbedder, onnx_path: Path, crops: list[np.ndarray]) -> np.ndarray:
    got = ReID(onnx_path, device="cpu", half=False)(crops)
    expected = model.embed([np.ascontiguousarray(c[:, :, ::-1]) for c in crops]).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert got.shape == expected.shape == (len(crops), DIM)
    return np.asarray((got * expected).sum(axis=1))


@pytest.fixture(scope="module", params=["test_efficientnet", "test_vit"])
def exported(
    tiny_model_factory: Callable[..., SiameseEmbedder],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SiameseEmbedder, Path]:
    """An ImageNet-statistics backbone and a mean/std 0.5 one, written by to_boxmot."""
    model = tiny_model_factory(request.param, DIM, calibrated=True)
    folder = tmp_path_factory.mktemp(request.param)
    return model, to_boxmot(model, folder / "reid.onnx", exporter="torchscript")


def test_the_two_backbones_cover_both_statistics(exported: tuple[SiameseEmbedder, Path]) -> None:
    model, _ = exported
    expected = {"test_efficientnet": (0.485, 0.456, 0.406), "test_vit": (0.5, 0.5, 0.5)}
    assert model.data_config.mean == expected[model.backbone_name]


@pytest.mark.parametrize("scale", [1, 2])
def test_boxmot_features_equal_embed(exported: tuple[SiameseEmbedder, Path], scale: int) -> None:
    model, path = exported
    cosines = _cosines(model, path, _crops(6, scale, seed=scale))
    assert cosines.min() >= 0.995, cosines


def test_a_fixed_batch_file_runs_in_chunks(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory("test_vit", DIM, calibrated=True)
    path = to_onnx(
        model,
        tmp_path / "reid.onnx",
        exporter="torchscript",
        dynamic_batch=False,
        batch_size=2,
        input_norm="imagenet",
    )
    sidecar = json.loads(write_boxmot_metadata(path, model).read_text("utf-8"))
    assert sidecar["input_shape"] == [2, 3, *SIZE]
    assert sidecar["dynamic_batch"] is False
    assert _cosines(model, path, _crops(5, 1, seed=3)).min() >= 0.995  # 2 + 2 + 1 (padded)


def test_without_the_folded_normalisation_a_vit_disagrees(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    """The guard's guard: BoxMOT on a graph expecting mean/std 0.5 gives other embeddings."""
    model = tiny_model_factory("test_vit", DIM, calibrated=True)
    path = to_onnx(model, tmp_path / "reid.onnx", exporter="torchscript", input_norm="model")
    write_boxmot_metadata(path, model)
    assert _cosines(model, path, _crops(6, 1, seed=0)).min() < 0.99


def test_boxmot_reads_the_sidecar(exported: tuple[SiameseEmbedder, Path]) -> None:
    model, path = exported
    sidecar = path.with_name("reid.onnx.metadata.json")
    assert read_artifact_metadata(path) == json.loads(sidecar.read_text("utf-8"))
    assert read_artifact_metadata(path)["input_shape"] == ["batch", 3, *SIZE]
    assert ReIDModelRegistry.get_model_name(path) == f"siamreid_{model.backbone_name}"
    assert ReIDModelRegistry.get_checkpoint_model_kwargs(path) == {"img_size": SIZE}
    assert ReIDModelRegistry.get_checkpoint_preprocess(path) == "resize"
    runtime = ReID(path, device="cpu")
    assert tuple(runtime.model.input_shape) == SIZE


def test_graph_metadata_records_the_input_normalisation(
    exported: tuple[SiameseEmbedder, Path],
) -> None:
    model, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert props["input_norm"] == "imagenet"
    assert json.loads(props["mean"]) == pytest.approx([0.485, 0.456, 0.406])
    assert json.loads(props["std"]) == pytest.approx([0.229, 0.224, 0.225])
    assert json.loads(props["model_mean"]) == pytest.approx(list(model.data_config.mean))
    assert session.get_inputs()[0].shape == ["batch", 3, *SIZE]


def test_verify_onnx_feeds_the_graph_its_own_normalisation(
    exported: tuple[SiameseEmbedder, Path],
) -> None:
    model, path = exported
    assert verify_onnx(path, model, batch_sizes=(3,)) <= 1e-4


def test_renorm_maps_imagenet_input_onto_the_model_statistics() -> None:
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    renorm = InputRenorm(*imagenet, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    pixels = torch.rand(2, 3, 4, 4)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in imagenet)
    expected = (pixels - 0.5) / 0.5
    torch.testing.assert_close(renorm((pixels - mean) / std), expected)


def test_to_boxmot_needs_an_onnx_suffix(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"does not end in '\.onnx'"):
        to_boxmot(
            tiny_model_factory("test_efficientnet", DIM, calibrated=True),
            tmp_path / "reid.bin",
            verify=False,
        )


def test_unknown_input_norm_is_named(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="input_norm is 'clip'"):
        to_onnx(
            tiny_model_factory("test_efficientnet", DIM, calibrated=True),
            tmp_path / "x.onnx",
            input_norm="clip",
        )  # type: ignore[arg-type]


def _pedestrian_boxes(sequence: Path, min_visibility: float) -> dict[int, list[tuple[int, ...]]]:
    """Frame -> [(track id, x1, y1, x2, y2)] of the visible pedestrians in gt.txt."""
    image = Image.open(next((sequence / "img1").iterdir()))
    width, height = image.size
    frames: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
        frame, track, left, top, w, h, flag, cls, vis = line.split(",")
        if int(flag) != 1 or int(cls) != 1 or float(vis) < min_visibility:
            continue
        x1, y1 = max(0.0, float(left)), max(0.0, float(top))
        x2, y2 = min(width, float(left) + float(w)), min(height, float(top) + float(h))
        if x2 - x1 >= 4 and y2 - y1 >= 8:
            frames[int(frame)].append((int(track), round(x1), round(y1), round(x2), round(y2)))
    return frames


def test_botsort_tracks_the_synthetic_mot_sequence_with_a_siamreid_model(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory("test_efficientnet", DIM, calibrated=True)
    weights = to_boxmot(model, tmp_path / "reid.onnx", exporter="torchscript")
    root = make_synthetic_mot(tmp_path / "mot", num_sequences=2, num_frames=40, num_people=4)
    sequence = next(p for p in sorted((root / "test").iterdir()) if p.is_dir())
    boxes = _pedestrian_boxes(sequence, min_visibility=0.3)
    tracker = boxmot.BotSort(reid_weights=weights, device="cpu", half=False)
    assigned: dict[int, list[int]] = defaultdict(list)
    frames = sorted((sequence / "img1").iterdir())
    for number, frame_path in enumerate(frames, start=1):
        image = np.ascontiguousarray(np.asarray(Image.open(frame_path).convert("RGB"))[:, :, ::-1])
        truth = boxes.get(number, [])
        dets = np.array([[*b[1:], 0.9, 0] for b in truth], dtype=np.float32).reshape(-1, 6)
        out = tracker.update(dets, image)
        for row in out:  # x1, y1, x2, y2, track id, conf, class, detection index
            assigned[truth[int(row[7])][0]].append(int(row[4]))
    # the appearance branch ran on siamreid's graph (BoxMOT's default OSNet is 512 wide)
    widths = {np.asarray(t.curr_feat).shape for t in tracker.active_tracks}
    assert widths == {(DIM,)}, widths
    long_tracks = {gt: ids for gt, ids in assigned.items() if len(ids) >= 10}
    assert len(long_tracks) >= 3, {gt: len(ids) for gt, ids in assigned.items()}
    for gt, ids in long_tracks.items():
        _, kept = Counter(ids).most_common(1)[0]
        assert kept / len(ids) > 0.5, (gt, Counter(ids))
