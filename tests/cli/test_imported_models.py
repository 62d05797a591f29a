"""An imported BoxMOT model goes everywhere a siamreid model goes: evaluate (re-ranking, flip),
index build + search, thresholds, and ONNX export for BoxMOT, where it runs as BoxMOT runs the
original checkpoint (cosine >= 0.999 on the same crops)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import Runner
from PIL import Image

from siamreid.data.datasets.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.evaluation import (
    calibrate_threshold,
    evaluate_features,
    evaluate_rank,
    nearest_match_distances,
    re_rank_features,
)
from siamreid.models import SiameseEmbedder

variants = pytest.importorskip("boxmot.reid.backbones.families.osnet.variants")


@pytest.fixture(scope="module")
def boxmot_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BoxMOT's default re-id model file, with random weights: OSNet x0.25, MSMT17's 1041 ids.

    One train-mode batch gives the BatchNorms non-trivial statistics.
    """
    torch.manual_seed(0)
    peer = variants.osnet_x0_25(num_classes=1041, pretrained=False)
    with torch.no_grad():
        peer.train()(torch.randn(8, 3, 256, 128))
    path = tmp_path_factory.mktemp("boxmot") / "osnet_x0_25_msmt17.pt"
    torch.save(peer.eval().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A very small synthetic Market-1501 (3 test people): the model runs at 256x128."""
    return make_synthetic_market(
        tmp_path_factory.mktemp("market"),
        num_train_ids=2,
        num_test_ids=3,
        cameras_per_id=(2, 2),
        images_per_camera=(1, 2),
        num_distractors=2,
        num_junk=1,
    )


@pytest.fixture(scope="module")
def splits(market: Path) -> ReidSplits:
    return Market1501(market).load()


def _labels(splits: ReidSplits) -> tuple[object, ...]:
    q, g = splits.query, splits.gallery
    return ReidSplits.pids(q), ReidSplits.pids(g), ReidSplits.camids(q), ReidSplits.camids(g)


@pytest.fixture(scope="module")
def embedded(boxmot_pt: Path, splits: ReidSplits) -> dict[str, torch.Tensor]:
    """The imported model's query and gallery embeddings, plain and flip-averaged, once."""
    model = SiameseEmbedder.from_pretrained(boxmot_pt)
    out = {}
    for flip in (False, True):
        for name, items in (("query", splits.query), ("gallery", splits.gallery)):
            out[f"{name}{'_flip' * flip}"] = model.embed([s.path for s in items], flip=flip)
    return out


def test_evaluate_with_reranking_and_flip_takes_the_checkpoint_file(
    cli: Runner,
    boxmot_pt: Path,
    market: Path,
    splits: ReidSplits,
    embedded: dict[str, torch.Tensor],
    tmp_path: Path,
) -> None:
    report = tmp_path / "metrics.json"
    args = ["--checkpoint", boxmot_pt, "--data", "market1501", "--root", market, "--json", report]
    result = cli("evaluate", *args, "--workers", 0, "--rerank", "--flip")
    assert result.code == 0, result.err
    distances = re_rank_features(embedded["query_flip"], embedded["gallery_flip"])
    expected = evaluate_rank(distances, *_labels(splits), max_rank=5)
    saved = json.loads(report.read_text("utf-8"))
    assert saved["mAP"] == pytest.approx(expected.mAP, abs=1e-6)
    plain = evaluate_features(
        embedded["query"], embedded["gallery"], *_labels(splits), metric="cosine", max_rank=5
    )
    assert 0.0 <= plain.mAP <= 1.0


def test_index_search_and_threshold(
    cli: Runner,
    boxmot_pt: Path,
    market: Path,
    splits: ReidSplits,
    embedded: dict[str, torch.Tensor],
    tmp_path: Path,
) -> None:
    index, gallery = tmp_path / "index", market / "bounding_box_test"
    build = cli("index", "build", "--checkpoint", boxmot_pt, gallery, "--out", index)
    assert build.code == 0, build.err
    assert "torch flat, cosine distance" in build.out
    found = cli("search", "--index", index, splits.query[0].path, "--k", 3, "--workers", 0)
    assert found.code == 0, found.err
    people = [i for i, s in enumerate(splits.gallery) if s.pid >= 0]  # junk is not indexed
    distances = 1 - embedded["gallery"][people] @ embedded["query"][0]
    nearest = splits.gallery[people[int(distances.argmin())]]
    assert Path(nearest.path).name in found.out
    g_ids = ReidSplits.pids(splits.gallery)
    same, diff = nearest_match_distances(
        embedded["query"], ReidSplits.pids(splits.query), embedded["gallery"], g_ids
    )
    assert np.isfinite(calibrate_threshold(same, diff).threshold)


def _crops(splits: ReidSplits, count: int) -> list[np.ndarray]:
    """BGR crops as a tracker cuts them (BoxMOT's input), from the synthetic gallery."""
    return [
        np.ascontiguousarray(np.asarray(Image.open(s.path).convert("RGB"))[:, :, ::-1])
        for s in splits.gallery[:count]
    ]


def test_exported_for_boxmot_it_runs_as_boxmot_runs_the_checkpoint(
    cli: Runner,
    boxmot_pt: Path,
    splits: ReidSplits,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("onnxruntime")
    from boxmot.reid.core.runtime import ReID
    from boxmot.utils.checks import RequirementsChecker

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"BoxMOT tried to install packages at run time: {args}")

    monkeypatch.setattr(RequirementsChecker, "_install_packages", refuse)
    monkeypatch.setattr(RequirementsChecker, "_run_install", refuse)
    onnx = tmp_path / "reid.onnx"
    exported = cli(
        "export",
        "--checkpoint",
        boxmot_pt,
        "--onnx",
        onnx,
        "--boxmot",
        "--exporter",
        "torchscript",
    )
    assert exported.code == 0, exported.err
    assert (tmp_path / "reid.onnx.metadata.json").is_file()
    crops = _crops(splits, 8)
    theirs = ReID(boxmot_pt, device="cpu", half=False)(crops)
    ours = ReID(onnx, device="cpu", half=False)(crops)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    assert ours.shape == theirs.shape == (8, 512)
    assert (ours * theirs).sum(axis=1).min() >= 0.999
