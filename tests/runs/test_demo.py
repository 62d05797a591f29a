"""The demo's recipe is data (configs/demo_cpu.yaml), the same recipe the demo always ran, and
it ships in the wheel."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from siamreid.cli.main import main
from siamreid.errors import ConfigError, RunFolderError
from siamreid.runs import demo
from siamreid.runs.demo import DEMO_CONFIG, demo_config_text, demo_recipe, run_demo
from siamreid.training.recipe import Recipe, load_recipe

ROOT = Path(__file__).resolve().parents[2]

# ``demo_recipe("X").to_dict()`` when the demo's recipe was still written in Python; the file
# must give the demo the same recipe, field for field.
BEFORE_THE_FILE: dict[str, Any] = {
    "model": {
        "backbone": "resnet18",
        "embedding_dim": 128,
        "pretrained": False,
        "weights": None,
        "num_classes": 0,
        "input_size": [64, 32],
        "normalize": True,
        "drop_path_rate": None,
        "pooling": "avg",  # added later, with defaults that build the same model
        "last_stride": None,
    },
    "data": {
        "dataset": "synthetic",
        "root": "X/data",
        "synthetic_train_ids": 100,
        "synthetic_test_ids": 100,
        "camera_pattern": "c(\\d+)",
        "seed": 0,
        "options": {},
        "train": None,
        "test": None,
        "on_bad_image": "raise",
    },
    "trainer": {
        "epochs": 12,
        "seed": 0,
        "eval_every": 1,
        "losses": [
            {
                "kind": "triplet",
                "weight": 1.0,
                "name": None,
                "margin": 0.3,
                "scale": None,
                "miner": "batch_hard",
                "distance": "normalized_euclidean",
                "label_smoothing": 0.1,
                "center_lr": 0.5,
            },
            {
                "kind": "id",
                "weight": 1.0,
                "name": None,
                "margin": None,  # the id term has no margin (it carried the triplet's 0.3)
                "scale": None,
                "miner": "batch_hard",
                "distance": "euclidean",
                "label_smoothing": 0.1,
                "center_lr": 0.5,
            },
        ],
        "augment": {
            "height": 64,
            "width": 32,
            "flip_prob": 0.5,
            "pad": 4,
            "random_erasing_prob": 0.0,
            "random_erasing_scale": [0.02, 0.4],
            "random_erasing_ratio": [0.3, 3.3],
        },
        "sampling": {"kind": "pk", "p": 8, "k": 4, "triplets_per_batch": 32},
        "optim": {
            "kind": "adam",
            "lr": 0.003,
            "weight_decay": 0.0005,
            "momentum": 0.9,
            "grad_clip": None,
        },
        "schedule": {
            "kind": "cosine",
            "milestones": [40, 70],
            "gamma": 0.1,
            "warmup_epochs": 1,
            "warmup_factor": 0.01,
        },
        "runtime": {
            "precision": "fp32",
            "channels_last": False,
            "compile": False,
            "device": None,
            "num_workers": None,
            "max_steps_per_epoch": None,
            "on_nan": "raise",
        },
        "output": {
            "out_dir": None,
            "resume": False,
            "keep_checkpoints": 2,
            "progress": True,
            "tensorboard": None,
            "keep_best": False,
            "trackers": [],
            "experiment": "siamreid",
            "run_name": None,
        },
    },
}


def test_the_file_gives_the_recipe_the_demo_always_ran() -> None:
    assert demo_recipe("X").to_dict() == BEFORE_THE_FILE


def test_arguments_override_the_file(tmp_path: Path) -> None:
    recipe = demo_recipe(tmp_path / "run", backbone="resnet50", epochs=3, seed=7)
    expected = copy.deepcopy(BEFORE_THE_FILE)
    expected["model"]["backbone"] = "resnet50"
    expected["data"]["root"] = str(tmp_path / "run" / "data")
    expected["trainer"]["epochs"] = 3
    expected["data"]["seed"] = expected["trainer"]["seed"] = 7
    assert recipe.to_dict() == expected


def test_the_demo_reads_configs_demo_cpu_yaml() -> None:
    path = ROOT / "configs" / DEMO_CONFIG
    assert demo_config_text() == path.read_text("utf-8")
    # the same file is a recipe for ``siamreid train --config`` (its data root aside)
    from_file = load_recipe(path, ["data.root=X/data"])
    assert from_file.to_dict() == BEFORE_THE_FILE


def test_a_missing_recipe_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_SOURCE_CONFIGS", tmp_path)
    with pytest.raises(ConfigError, match=r"demo_cpu\.yaml.*reinstall"):
        demo_recipe("X")


def test_the_demo_command_passes_its_options_to_the_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[str, Recipe, bool]] = []

    def fake_run_demo(out: str, recipe: Recipe, *, overwrite: bool) -> dict[str, Any]:
        ran.append((out, recipe, overwrite))
        return {}

    monkeypatch.setattr("siamreid.runs.demo.run_demo", fake_run_demo)  # imported by run()
    out = str(tmp_path / "demo")
    assert main(["demo", "--out", out, "--epochs", "2", "--seed", "3"]) == 0
    assert main(["demo", "--out", out, "--backbone", "resnet34", "--overwrite"]) == 0
    (out1, first, overwrite1), (_, second, overwrite2) = ran
    assert out1 == out
    assert first == demo_recipe(out, epochs=2, seed=3)
    assert (first.trainer.epochs, first.trainer.seed, first.data.seed) == (2, 3, 3)
    assert first.model.backbone == "resnet18"  # the file's
    assert second == demo_recipe(out, backbone="resnet34")
    assert (overwrite1, overwrite2) == (False, True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built in-process by hatchling (offline, about a second)."""
    from hatchling.builders.wheel import WheelBuilder

    folder = tmp_path_factory.mktemp("wheel")
    return Path(next(WheelBuilder(str(ROOT)).build(directory=str(folder), versions=["standard"])))


def test_the_wheel_carries_the_recipe_and_the_runs_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = archive.read(f"siamreid/configs/{DEMO_CONFIG}").decode("utf-8")
    assert shipped == (ROOT / "configs" / DEMO_CONFIG).read_text("utf-8")
    modules = {"__init__", "demo", "folder", "pipeline", "report"}
    assert {f"siamreid/runs/{m}.py" for m in modules} <= names


def test_an_installed_wheel_reads_its_own_copy(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        "import siamreid, siamreid.runs.demo as d; "
        "print(siamreid.__file__); print(d.demo_recipe('X').model.backbone)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}  # before the checkout's editable install
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    where, backbone = done.stdout.split()
    assert Path(where).is_relative_to(site)
    assert not (tmp_path / "configs").exists()  # no checkout beside it: the packaged copy was read
    assert backbone == "resnet18"


def test_a_second_demo_in_the_same_folder_names_what_demo_accepts(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "recipe.yaml").write_text("{}", encoding="utf-8")  # a run's marker file
    with pytest.raises(RunFolderError) as info:
        run_demo(out, demo_recipe(out))
    message = str(info.value)
    assert "--overwrite" in message
    assert "another --out" in message
    assert "--resume" not in message  # demo has no --resume
    assert sorted(p.name for p in out.iterdir()) == ["recipe.yaml"]
