"""``siamreid evaluate`` against the library called directly, on one test set and on several.

Several test sets: each is evaluated alone, then the cross-domain table is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runner import Runner

from siamreid.data.datasets.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.evaluation import evaluate_features, evaluate_rank, re_rank_features
from siamreid.models import SiameseEmbedder


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
    args = ["--checkpoint", checkpoint, "--dataset", "market1501", "--root", synthetic_root]
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
    args = ["--checkpoint", checkpoint, "--dataset", "synthetic", "--root", synthetic_root.parent]
    result = cli("evaluate", *args, "--workers", 0)
    assert result.code == 0, result.err
    assert "rank1" in result.out


def test_the_dataset_is_detected_and_synthetic_data_is_no_incomplete_download(
    cli: Runner, checkpoint: Path, synthetic_root: Path
) -> None:
    result = cli("evaluate", "--checkpoint", checkpoint, "--root", synthetic_root, "--workers", 0)
    assert result.code == 0, result.err
    assert result.out.startswith(f"--root {synthetic_root}: detected dataset synthetic")
    assert "=> Synthetic Market-1501 loaded" in result.out
    assert "incomplete download" not in result.out
    assert "synthetic (cosine distance" in result.out


def test_the_old_data_option_still_works_with_one_warning(
    cli: Runner, checkpoint: Path, synthetic_root: Path
) -> None:
    args = ["--checkpoint", checkpoint, "--data", "synthetic", "--root", synthetic_root.parent]
    result = cli("evaluate", *args, "--workers", 0)
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        "siamreid: warning: --data is deprecated and will be removed; use --dataset instead."
    ]
    assert "synthetic (cosine distance" in result.out


def _expected(model: SiameseEmbedder, splits: ReidSplits) -> dict[str, float]:
    query, gallery = _features(model, splits)
    return evaluate_features(query, gallery, *_labels(splits), metric="cosine").to_dict()


def test_each_test_set_is_evaluated_on_its_own(
    cli: Runner,
    checkpoint: Path,
    tiny_model: SiameseEmbedder,
    synthetic_root: Path,
    synthetic_splits: ReidSplits,
    tmp_path: Path,
) -> None:
    other = make_synthetic_market(tmp_path / "other", num_train_ids=2, num_test_ids=6, seed=3)
    other_splits = Market1501(other).load()
    report = tmp_path / "cross.json"
    result = cli(
        "evaluate",
        "--checkpoint",
        checkpoint,
        "--root",
        synthetic_root,
        "--dataset",
        "market1501",
        "--test",
        "synthetic",
        other.parent,
        "--test",
        "market1501",
        other,
        "--json",
        report,
        "--workers",
        0,
    )
    assert result.code == 0, result.err
    saved = json.loads(report.read_text())
    first = _expected(tiny_model, synthetic_splits)
    second = _expected(tiny_model, other_splits)
    sets = saved.pop("test_sets")
    # the same dataset twice gets a second label naming its folder
    assert list(sets) == ["market1501", "synthetic", f"market1501 ({other})"]
    assert sets["market1501"] == pytest.approx(first, abs=1e-6)
    assert sets["synthetic"] == pytest.approx(second, abs=1e-6)
    assert sets[f"market1501 ({other})"] == pytest.approx(second, abs=1e-6)
    assert saved == pytest.approx({"rerank": False, **first}, abs=1e-6)  # top level: the first
    table = result.out.split("cross-domain results")[1]
    row = next(line for line in table.splitlines() if line.strip().startswith("synthetic"))
    assert f"{100 * second['mAP']:5.1f}" in row


def test_no_test_set_is_one_line(cli: Runner, checkpoint: Path) -> None:
    result = cli("evaluate", "--checkpoint", checkpoint)
    assert result.code == 2
    assert "No test dataset" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_an_unknown_test_set_name_is_refused_before_any_work(
    cli: Runner, checkpoint: Path, tmp_path: Path
) -> None:
    result = cli("evaluate", "--checkpoint", checkpoint, "--test", "duke", tmp_path)
    assert result.code == 2
    assert "--test NAME is 'duke'" in result.err
    assert "dukemtmcreid" in result.err
