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

from siamreid.data.samples import ReidSplits
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


def _labels(splits: ReidSplits) -> tuple[object, ...]:
    q, g = splits.query, splits.gallery
    return ReidSplits.pids(q), ReidSplits.pids(g), ReidSplits.camids(q), ReidSplits.camids(g)


@pytest.mark.parametrize("extra", [[], ["--rerank", "--flip"]])
def test_evaluate_takes_the_checkpoint_file(
    cli: Runner,
    boxmot_pt: Path,
    synthetic_root: Path,
    synthetic_splits: ReidSplits,
    tmp_path: Path,
    extra: list[str],
) -> None:
    report = tmp_path / "metrics.json"
    args = ["--checkpoint", boxmot_pt, "--data", "market1501", "--root", synthetic_root]
    result = cli("evaluate", *args, "--json", report, "--workers", 0, *extra)
    assert result.code == 0, result.err
    model = SiameseEmbedder.from_pretrained(boxmot_pt)
    flip = bool(extra)
    query = model.embed([s.path for s in synthetic_splits.query], flip=flip)
    gallery = model.embed([s.path for s in synthetic_splits.gallery], flip=flip)
    if extra:
        expected = evaluate_rank(re_rank_features(query, gallery), *_labels(synthetic_splits))
    else:
        expected = evaluate_features(query, gallery, *_labels(synthetic_splits), metric="cosine")
    saved = json.loads(report.read_text("utf-8"))
    assert saved["mAP"] == pytest.approx(expected.mAP, abs=1e-6)


def test_index_search_and_threshold(
    cli: Runner, boxmot_pt: Path, synthetic_splits: ReidSplits, gallery: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build = cli("index", "build", "--checkpoint", boxmot_pt, gallery, "--out", index)
    assert build.code == 0, build.err
    assert "torch flat, cosine distance" in build.out
    query = synthetic_splits.query[0].path
    found = cli("search", "--index", index, query, "--k", 3, "--workers", 0)
    assert found.code == 0, found.err
    model = SiameseEmbedder.from_pretrained(boxmot_pt)
    g = [s for s in synthetic_splits.gallery if s.pid >= 0]
    distances = 1 - model.embed([s.path for s in g]) @ model.embed([query]).T
    nearest = g[int(distances.argmin())]
    assert Path(nearest.path).name in found.out
    q = synthetic_splits.query
    same, diff = nearest_match_distances(
        model.embed([s.path for s in q]),
        ReidSplits.pids(q),
        model.embed([s.path for s in g]),
        ReidSplits.pids(g),
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
    synthetic_splits: ReidSplits,
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
    crops = _crops(synthetic_splits, 8)
    theirs = ReID(boxmot_pt, device="cpu", half=False)(crops)
    ours = ReID(onnx, device="cpu", half=False)(crops)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    assert ours.shape == theirs.shape == (8, 512)
    assert (ours * theirs).sum(axis=1).min() >= 0.999
