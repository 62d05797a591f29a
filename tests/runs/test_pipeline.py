"""run_recipe: the files of a run, the lines it prints, the checks before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from siamreid._io import LOCK_FILE
from siamreid.data.samples import ReidSplits
from siamreid.errors import BackboneError, ConfigError, PretrainedWeightsError, RunFolderError
from siamreid.runs.pipeline import build_model, run_recipe
from siamreid.training.recipe import Recipe, load_recipe, recipe_from_dict

pytest.importorskip("matplotlib")

# timm's 0.4M-parameter test ResNet at 64x32: one epoch of two steps
TINY: dict[str, Any] = {
    "model": {
        "backbone": "test_resnet",
        "embedding_dim": 16,
        "pretrained": False,
        "input_size": [64, 32],
    },
    "trainer": {
        "epochs": 1,
        "seed": 3,
        "sampling": {"p": 4, "k": 2},
        "schedule": {"kind": "constant", "warmup_epochs": 0},
        "runtime": {"max_steps_per_epoch": 2, "num_workers": 0},
        "output": {"progress": False, "tensorboard": False},
    },
}
REPORT_FILES = ("metrics.json", "recipe.yaml", "losses.png", "ranked.png", "actmaps.png")


def _recipe(data: dict[str, Any]) -> Recipe:
    return recipe_from_dict({**TINY, "data": data})


def test_a_run_writes_the_report_and_says_what_it_did(
    tmp_path: Path, synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    lines: list[str] = []
    report = run_recipe(
        _recipe({"dataset": "market1501", "root": str(synthetic_root)}),
        tmp_path / "run",
        echo=lines.append,
    )
    out = tmp_path / "run"
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "train" / "metrics.jsonl").is_file()
    assert (out / "model").is_dir()
    saved = json.loads((out / "metrics.json").read_text("utf-8"))
    assert saved == {k: v for k, v in report.items() if k != "total_seconds"}
    assert saved["epochs"] == 1
    assert saved["backbone"] == "test_resnet"
    assert saved["input_size"] == [64, 32]
    assert saved["train_sets"] == ["market1501"]
    assert saved["test_sets"]["market1501"] == {"before": saved["before"], "after": saved["after"]}
    assert report["total_seconds"] >= saved["train_seconds"] > 0
    # the stored recipe is the run's: classifier sized from the data, trainer writing into train/
    stored = load_recipe(out / "recipe.yaml")
    assert stored.model.num_classes == 12
    assert stored.trainer.output.out_dir == str(out / "train")
    assert lines[0] == synthetic_splits.summary()
    assert [line.split()[0] for line in lines[1:]] == ["before", "after", "wrote"]
    assert lines[1].startswith("before training: rank1 ")
    assert f"{saved['before']['mAP']:.3f}" in lines[1]
    assert lines[2].startswith("after training:  rank1 ")
    assert f"{saved['after']['mAP']:.3f}" in lines[2]


def test_several_test_sets_are_each_reported_and_tabled(
    tmp_path: Path, synthetic_root: Path
) -> None:
    root = str(synthetic_root)
    data = {
        "train": [{"dataset": "market1501", "root": root}],
        "test": [
            {"dataset": "market1501", "root": root, "name": "first"},
            {"dataset": "market1501", "root": root, "name": "second"},
        ],
    }
    lines: list[str] = []
    report = run_recipe(_recipe(data), tmp_path / "run", echo=lines.append)
    assert list(report["test_sets"]) == ["first", "second"]
    # the first test set is the one at the top of metrics.json
    assert report["test_sets"]["first"]["after"] == report["after"]
    evaluated = [line for line in lines if line.startswith(("before", "after"))]
    assert [line.rsplit(maxsplit=1)[-1] for line in evaluated] == ["(first)", "(second)"] * 2
    (table,) = [line for line in lines if line.startswith("cross-domain")]
    assert "trained on market1501" in table
    assert "first" in table
    assert "second" in table


def test_an_occupied_folder_or_a_missing_dataset_changes_nothing(
    tmp_path: Path, synthetic_root: Path
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    recipe = _recipe({"dataset": "market1501", "root": str(synthetic_root)})
    with pytest.raises(RunFolderError, match="holds files of no siamreid run"):
        run_recipe(recipe, foreign, echo=print)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]

    missing = _recipe({"dataset": "market1501", "root": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match=r"data\.root .*nowhere.* does not exist"):
        run_recipe(missing, tmp_path / "new", echo=print)
    assert not (tmp_path / "new").exists()


def test_build_model_is_seeded_and_leaves_the_global_rng_alone() -> None:
    recipe = _recipe({"dataset": "market1501", "root": "unused"})
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, second = build_model(recipe), build_model(recipe)
    assert torch.equal(torch.rand(3), expected_next)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_missing_weights_file_is_named_by_its_recipe_field(tmp_path: Path) -> None:
    recipe = recipe_from_dict(
        {
            **TINY,
            "model": {**TINY["model"], "pretrained": True, "weights": str(tmp_path / "w.pth")},
            "data": {"dataset": "market1501", "root": "unused"},
        }
    )
    with pytest.raises(PretrainedWeightsError, match=r"^model\.weights '.*w\.pth'"):
        build_model(recipe)


def test_a_backbone_typo_is_reported_before_any_data_is_read(tmp_path: Path) -> None:
    recipe = recipe_from_dict(
        {
            **TINY,
            "model": {**TINY["model"], "backbone": "resnet5O"},
            "data": {"dataset": "synthetic", "root": str(tmp_path / "data")},
        }
    )
    lines: list[str] = []
    with pytest.raises(BackboneError, match=r"Unknown backbone 'resnet5O'.*resnet50"):
        run_recipe(recipe, tmp_path / "run", echo=lines.append)
    assert lines == []  # no data summary: nothing was read
    assert not (tmp_path / "data").exists()  # nor generated
    assert not (tmp_path / "run").exists()


def test_p_above_the_identities_stops_after_the_summary_and_leaves_no_folder(
    tmp_path: Path, synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    ids = synthetic_splits.num_train_pids
    recipe = recipe_from_dict(
        {
            **TINY,
            "trainer": {**TINY["trainer"], "sampling": {"p": ids + 1, "k": 2}},
            "data": {"dataset": "market1501", "root": str(synthetic_root)},
        }
    )
    lines: list[str] = []
    with pytest.raises(ConfigError, match=rf"trainer\.sampling\.p={ids + 1}.* has {ids}"):
        run_recipe(recipe, tmp_path / "run", echo=lines.append)
    assert lines == [synthetic_splits.summary()]  # no untrained evaluation ran
    assert not (tmp_path / "run").exists()
    # an empty folder the user made stays, and stays empty
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"trainer\.sampling\.p"):
        run_recipe(recipe, tmp_path / "empty", echo=lines.append)
    assert [p.name for p in (tmp_path / "empty").iterdir() if p.name != LOCK_FILE] == []
