"""The guides' Python blocks parse, import real names, and run against files laid out as they
describe (a folder of people, a training run, a gallery of crops)."""

from __future__ import annotations

import ast
import importlib
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quick_training import quick_config
from siamreid.data.samples import ReidSplits
from siamreid.losses import LossTermConfig
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer

from .benchmark_trees import write_benchmark_copies
from .markdown_blocks import Block, blocks, pages, run_python_blocks

PYTHON_BLOCKS = [b for page in pages() for b in blocks(page, "python")]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.where)
def test_python_block_parses_and_imports_real_names(block: Block) -> None:
    tree = ast.parse(block.code, filename=block.where)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("siamreid"):
            module = importlib.import_module(node.module or "")
            missing = [a.name for a in node.names if not hasattr(module, a.name)]
            assert not missing, f"{block.where}: {node.module} has no {missing}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("siamreid"):
                    importlib.import_module(alias.name)


# ----------------------------------------------------------------------------- page set-ups
def _people_folder(root: Path, synthetic_root: Path) -> None:
    """``my_people/<person>/cam<N>_<i>.jpg`` from the synthetic training crops."""
    for path in sorted((synthetic_root / "bounding_box_train").glob("*.jpg")):
        person, camera = path.name.split("_")[:2]  # 0007, c3s1
        folder = root / "my_people" / f"person{person}"
        folder.mkdir(parents=True, exist_ok=True)
        index = len(list(folder.iterdir()))
        shutil.copy(path, folder / f"cam{camera[1]}_{index:04d}.jpg")


def _training_run(root: Path, synthetic_root: Path, splits: ReidSplits) -> None:
    """``runs/bot`` (a one-step training run) and ``people/`` (gallery crops and a query)."""
    torch.manual_seed(0)
    model = SiameseEmbedder("resnet18", 32, pretrained=False, input_size=(64, 32))
    config = quick_config(  # no classifier needed
        root / "runs" / "bot" / "train", losses=(LossTermConfig(kind="triplet"),)
    )
    Trainer(model, config).fit(splits.train)
    gallery = root / "people" / "gallery"
    gallery.mkdir(parents=True)
    crops = sorted((synthetic_root / "bounding_box_test").glob("*.jpg"))
    for path in [p for p in crops if int(p.name.split("_")[0]) > 0][:40]:  # no junk/distractors
        shutil.copy(path, gallery / path.name)
    shutil.copy(splits.query[0].path, root / "people" / "query.jpg")


def _mot_run(root: Path, synthetic_root: Path, splits: ReidSplits) -> None:
    """``runs/mot``: a one-step training run for the tracking page to export."""
    torch.manual_seed(0)
    model = SiameseEmbedder("resnet18", 32, pretrained=False, input_size=(64, 32))
    config = quick_config(root / "runs" / "mot" / "train", losses=(LossTermConfig(kind="triplet"),))
    Trainer(model, config).fit(splits.train)


SETUPS: dict[str, Callable[[Path, Path, ReidSplits], None] | None] = {
    "guides/backbones.md": None,
    "guides/cross-domain.md": None,
    "guides/custom-dataset.md": lambda root, synth, _: _people_folder(root, synth),
    "guides/datasets.md": lambda root, _, __: write_benchmark_copies(root),
    "guides/deployment.md": _training_run,
    "guides/evaluation.md": None,
    "guides/tracking.md": _mot_run,
    "guides/triplet-formulations.md": None,
}


def test_every_guide_with_python_is_run_here() -> None:
    with_python = {b.page for b in PYTHON_BLOCKS} - {"quickstart.md"}  # test_quickstart.py
    assert with_python <= set(SETUPS), f"add {sorted(with_python - set(SETUPS))} to SETUPS"


@pytest.fixture
def run_page(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic_root: Path,
    synthetic_splits: ReidSplits,
) -> Callable[[str], dict[str, Any]]:
    """Lay out the page's files in a fresh folder, then run its Python blocks there."""

    def run(page: str) -> dict[str, Any]:
        setup = SETUPS[page]
        if setup is not None:
            setup(tmp_path, synthetic_root, synthetic_splits)
        monkeypatch.chdir(tmp_path)
        return run_python_blocks(page)

    return run


def test_evaluation_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    ns = run_page("guides/evaluation.md")
    metrics, same = ns["metrics"], ns["same"]
    assert same.to_dict() == pytest.approx(metrics.to_dict())
    # the camera rule leaves five cross-camera matches per query: all 50 are scored
    assert metrics.num_valid_queries == 50
    labels = ns["q_pids"], ns["g_pids"], ns["q_camids"], ns["g_camids"]
    reranked = ns["evaluate_rank"](ns["reranked"], *labels)
    assert reranked.mAP > metrics.mAP  # as the page says


def test_custom_dataset_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    ns = run_page("guides/custom-dataset.md")
    splits = ns["splits"]  # the second block: no cameras, 70 % of people for training
    assert isinstance(splits, ReidSplits)
    assert not splits.has_cameras
    people = len(list(Path("my_people").iterdir()))
    assert splits.num_train_pids == round(0.7 * people)


def test_datasets_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    ns = run_page("guides/datasets.md")  # on tiny copies laid out as the page's trees
    assert [ns[k].name for k in ("market", "duke", "msmt", "cuhk_labeled", "cuhk_detected")] == [
        "Market1501",
        "DukeMTMCReID",
        "MSMT17",
        "CUHK03NP-labeled",
        "CUHK03NP-detected",
    ]
    assert ns["msmt"].num_train_pids == 3  # list_train + list_val
    assert ns["differences"] == ns["duke"].notes  # a tiny copy differs in every split
    assert len(ns["differences"]) == 3


def test_cross_domain_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    import yaml

    from siamreid.training.recipe import recipe_from_dict

    ns = run_page("guides/cross-domain.md")
    data = ns["data"]
    assert data.train.num_train_pids == 16  # two copies of 8 people each, never merged
    assert list(ns["results"]) == ["synthetic", "synthetic seed 1"]
    assert all(m.num_valid_queries > 0 for m in ns["results"].values())
    yaml_block = next(b for b in blocks("guides/cross-domain.md", "yaml"))
    recipe = recipe_from_dict(yaml.safe_load(yaml_block.code))  # the page's recipe parses
    assert [s.dataset for s in recipe.data.test_sources] == ["market1501", "dukemtmcreid", "msmt17"]


def test_triplet_formulations_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    import yaml

    from siamreid.training.recipe import recipe_from_dict

    ns = run_page("guides/triplet-formulations.md")
    assert ns["siamese"].sampling.kind == "triplet"
    assert ns["strong_baseline"].sampling.p == 16
    losses = ns["strong_baseline"].losses
    assert [t.kind for t in losses] == ["triplet", "id"]
    assert losses[0].miner == "batch_hard"
    margins = ns["margins"].losses
    assert [(t.kind, t.margin, t.scale) for t in margins] == [
        ("circle", 0.25, 128.0),
        ("arcface", 0.5, 32.0),
    ]
    (yaml_block,) = blocks("guides/triplet-formulations.md", "yaml")
    recipe = recipe_from_dict({"trainer": yaml.safe_load(yaml_block.code)})
    assert [(t.kind, t.weight) for t in recipe.trainer.losses][-1] == ("center", 0.0005)


def test_backbones_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    ns = run_page("guides/backbones.md")
    assert ns["model"].backbone_name == "resnet50"
    assert tuple(ns["vit"].backbone.pos_embed.shape) == (1, 1 + 16 * 8, 384)
    assert ns["osnet"].backbone.num_features == 128
    assert ns["bot"].backbone.forward_features(torch.zeros(1, 3, 64, 32)).shape[-2:] == (4, 2)


@pytest.mark.slow
def test_deployment_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    ns = run_page("guides/deployment.md")
    model = ns["model"]
    assert isinstance(model, SiameseEmbedder)
    # the page's hand-written ONNX preprocessing gives the embeddings PyTorch gives
    expected = model.embed(["people/query.jpg"]).numpy()
    np.testing.assert_allclose(ns["embeddings"], expected, atol=1e-3)
    result = ns["result"]
    gallery = sorted(Path("people/gallery").glob("*.jpg"))
    assert len(ns["index"]) == len(gallery)
    assert set(result.paths[0]) <= {str(p) for p in gallery}
    assert ns["known"].shape == (1,)


@pytest.mark.slow
def test_tracking_guide(run_page: Callable[[str], dict[str, Any]]) -> None:
    pytest.importorskip("boxmot")  # siamreid[boxmot] leaves it out on Python 3.10
    ns = run_page("guides/tracking.md")
    splits = ns["splits"]  # crops cut from the synthetic sequences the page wrote
    assert splits.num_train_pids > 0
    assert splits.query
    assert Path("models/reid.onnx.metadata.json").is_file()  # BoxMOT's sidecar
    rows = Path("results/SYN-03.txt").read_text().splitlines()
    assert len(rows) == len(ns["results"]) > 0
    assert all(len(row.split(",")) == 10 for row in rows)  # MOTChallenge results format
    # most boxes of each person keep one track id (motion and appearance together)
    kept = [Counter(ids).most_common(1)[0][1] / len(ids) for ids in ns["track_ids"].values()]
    assert len(kept) >= 3
    assert np.median(kept) > 0.5
