"""``siamreid embed`` and ``siamreid evaluate`` against the library called directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import Runner

from siamreid.data.samples import ReidSplits
from siamreid.evaluation import evaluate_features, evaluate_rank, re_rank_features
from siamreid.models import SiameseEmbedder


def test_embed_writes_sorted_paths_and_their_embeddings(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, synthetic_root: Path, tmp_path: Path
) -> None:
    images = synthetic_root / "query"
    out = tmp_path / "emb.npz"
    result = cli("embed", "--checkpoint", checkpoint, images, "--out", out, "--workers", 2)
    assert result.code == 0, result.err
    saved = np.load(out)
    paths = [Path(p) for p in saved["paths"]]
    assert paths == sorted(images.glob("*.jpg"))
    assert saved["embeddings"].dtype == np.float32
    expected = tiny_model.embed(paths)
    torch.testing.assert_close(torch.from_numpy(saved["embeddings"]), expected)
    assert f"wrote {len(paths)} embeddings of dimension 16" in result.out


def test_embed_flip_averages_mirrors(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, synthetic_root: Path, tmp_path: Path
) -> None:
    image = next((synthetic_root / "query").glob("*.jpg"))
    out = tmp_path / "one.npz"
    assert cli("embed", "--checkpoint", checkpoint, image, "--out", out, "--flip").code == 0
    got = torch.from_numpy(np.load(out)["embeddings"])
    torch.testing.assert_close(got, tiny_model.embed([image], flip=True))
    assert not torch.allclose(got, tiny_model.embed([image]))


def _features(model: SiameseEmbedder, splits: ReidSplits) -> tuple[torch.Tensor, torch.Tensor]:
    return model.embed([s.path for s in splits.query]), model.embed(
        [s.path for s in splits.gallery]
    )


def _labels(splits: ReidSplits) -> tuple[object, ...]:
    return (
        ReidSplits.pids(splits.query),
        ReidSplits.pids(splits.gallery),
        ReidSplits.camids(splits.query),
        ReidSplits.camids(splits.gallery),
    )


@pytest.mark.parametrize("rerank", [False, True])
def test_evaluate_reports_the_library_metrics(
    cli: Runner,
    checkpoint: Path,
    tiny_model: SiameseEmbedder,
    synthetic_root: Path,
    synthetic_splits: ReidSplits,
    tmp_path: Path,
    rerank: bool,
) -> None:
    report = tmp_path / "metrics.json"
    args = ["--checkpoint", checkpoint, "--data", "market1501", "--root", synthetic_root]
    result = cli("evaluate", *args, "--json", report, "--workers", 0, *(["--rerank"] * rerank))
    assert result.code == 0, result.err
    query, gallery = _features(tiny_model, synthetic_splits)
    if rerank:
        expected = evaluate_rank(re_rank_features(query, gallery), *_labels(synthetic_splits))
    else:
        expected = evaluate_features(query, gallery, *_labels(synthetic_splits), metric="cosine")
    saved = json.loads(report.read_text())
    assert saved.pop("rerank") is rerank
    assert saved.pop("test_sets") == {"market1501": pytest.approx(expected.to_dict(), abs=1e-6)}
    assert saved == pytest.approx(expected.to_dict(), abs=1e-6)
    assert f"mAP     {expected.mAP:7.2%}" in result.out
    assert "Market1501 loaded" in result.out


def test_evaluate_synthetic_reads_an_existing_dataset(
    cli: Runner, checkpoint: Path, synthetic_root: Path
) -> None:
    args = ["--checkpoint", checkpoint, "--data", "synthetic", "--root", synthetic_root.parent]
    result = cli("evaluate", *args, "--workers", 0)
    assert result.code == 0, result.err
    assert "rank1" in result.out
