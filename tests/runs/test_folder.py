"""The run folder rules: what counts as a run, who may write it, what a resume may change."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from siamreid._io import LOCK_FILE
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.errors import RunFolderError
from siamreid.runs.folder import (
    LOG_FILE,
    RECIPE_FILE,
    check_resume,
    check_run_folder,
    clear_run_folder,
    holds_run,
    load_run_recipe,
    run_log,
)
from siamreid.training.recipe import Recipe, load_recipe, save_recipe


def _run(folder: Path, recipe: Recipe | None = None) -> Path:
    """A run folder as ``run_recipe`` leaves it before training: its recipe and a lock."""
    save_recipe(recipe or Recipe(), folder / RECIPE_FILE)
    (folder / LOCK_FILE).touch()
    return folder


@pytest.mark.parametrize("marker", ["recipe.yaml", "train", "metrics.json", "model"])
def test_any_run_file_marks_a_run(tmp_path: Path, marker: str) -> None:
    assert not holds_run(tmp_path)
    (tmp_path / marker).touch()
    assert holds_run(tmp_path)


def test_a_new_empty_or_only_locked_folder_starts_a_run(tmp_path: Path) -> None:
    check_run_folder(tmp_path / "new", resume=False, overwrite=False)
    check_run_folder(tmp_path, resume=False, overwrite=False)
    (tmp_path / LOCK_FILE).touch()
    check_run_folder(tmp_path, resume=False, overwrite=False)


def test_a_run_is_refused_unless_resumed_or_overwritten(tmp_path: Path) -> None:
    _run(tmp_path)
    with pytest.raises(RunFolderError, match=r"already holds a run.*--resume.*--overwrite"):
        check_run_folder(tmp_path, resume=False, overwrite=False)
    check_run_folder(tmp_path, resume=True, overwrite=False)
    check_run_folder(tmp_path, resume=False, overwrite=True)
    with pytest.raises(RunFolderError, match="not both"):
        check_run_folder(tmp_path, resume=True, overwrite=True)


@pytest.mark.parametrize(("resume", "overwrite"), [(False, False), (True, False), (False, True)])
def test_files_of_no_run_and_a_file_are_never_run_folders(
    tmp_path: Path, resume: bool, overwrite: bool
) -> None:
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "e.txt"):
        (tmp_path / name).touch()
    with pytest.raises(
        RunFolderError, match=r"no siamreid run \(a.txt, b.txt, c.txt, d.txt, \.\.\.\)"
    ):
        check_run_folder(tmp_path, resume=resume, overwrite=overwrite)
    with pytest.raises(RunFolderError, match="is a file"):
        check_run_folder(tmp_path / "a.txt", resume=resume, overwrite=overwrite)


def test_clearing_keeps_the_lock_and_does_not_follow_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").touch()
    run = _run(tmp_path / "run")
    (run / "train" / "checkpoints").mkdir(parents=True)
    (run / "train" / "checkpoints" / "latest.json").symlink_to(outside / "keep.txt")
    clear_run_folder(run)
    assert [p.name for p in run.iterdir()] == [LOCK_FILE]
    assert (outside / "keep.txt").is_file()


def test_a_fresh_folder_has_nothing_to_resume(tmp_path: Path) -> None:
    assert check_resume(tmp_path, Recipe()) is None


def test_a_resume_may_change_only_the_resumable_fields(tmp_path: Path) -> None:
    stored = Recipe()
    _run(tmp_path, stored)
    runtime = replace(stored.trainer.runtime, num_workers=0)
    longer = replace(stored, trainer=replace(stored.trainer, epochs=200, runtime=runtime))
    assert check_resume(tmp_path, longer) == stored
    optim = replace(stored.trainer.optim, lr=0.5)
    other = replace(stored, trainer=replace(stored.trainer, optim=optim))
    with pytest.raises(
        RunFolderError, match=r"trainer\.optim\.lr \(.* in recipe\.yaml, 0\.5 now\)"
    ):
        check_resume(tmp_path, other)


def test_a_resume_without_classifier_size_takes_the_stored_one(tmp_path: Path) -> None:
    stored = Recipe()
    stored = replace(stored, model=replace(stored.model, num_classes=12))
    _run(tmp_path, stored)
    assert check_resume(tmp_path, Recipe()) == stored  # num_classes 0: as stored


def test_the_recipe_of_a_run_to_resume_is_its_own(tmp_path: Path) -> None:
    stored = Recipe()
    stored = replace(stored, trainer=replace(stored.trainer, epochs=5))
    _run(tmp_path, stored)
    config = tmp_path / "other.yaml"
    save_recipe(replace(stored, trainer=replace(stored.trainer, epochs=7)), config)

    assert load_run_recipe(tmp_path, None, resume=True) == stored
    assert load_run_recipe(tmp_path, None, ["trainer.epochs=9"], resume=True).trainer.epochs == 9
    assert load_run_recipe(tmp_path, config, resume=True) == load_recipe(config)
    assert load_run_recipe(tmp_path, None) == Recipe()  # a new run: the defaults
    assert load_run_recipe(tmp_path / "new", None, resume=True) == Recipe()


def test_overwrite_refuses_a_run_folder_holding_the_users_own_files(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    epoch = run / "train" / "checkpoints" / "epoch_0001"
    epoch.mkdir(parents=True)
    (epoch / "model.safetensors").write_bytes(b"the run's")
    (run / "notes.txt").write_text("mine")
    (run / "train" / "mine.csv").write_text("mine")
    (run / "model").symlink_to(tmp_path, target_is_directory=True)  # not a folder the run made
    for attempt in (
        lambda: check_run_folder(run, resume=False, overwrite=True),
        lambda: clear_run_folder(run),
    ):
        with pytest.raises(RunFolderError) as info:
            attempt()
        assert "3 file(s) no run writes (model, notes.txt, train/mine.csv)" in str(info.value)
        assert "nothing was changed" in str(info.value)
    assert (run / "notes.txt").read_text() == "mine"
    assert (epoch / "model.safetensors").is_file()
    (run / "notes.txt").unlink()
    (run / "train" / "mine.csv").unlink()
    (run / "model").unlink()
    clear_run_folder(run)  # only the run's files are left: they go
    assert [p.name for p in run.iterdir()] == [LOCK_FILE]


def test_overwrite_clears_the_demos_generated_data_but_not_a_users(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    make_synthetic_market(run / "data", num_train_ids=2, num_test_ids=2)  # as the demo does
    check_run_folder(run, resume=False, overwrite=True)
    (run / "data" / "Market-1501-v15.09.15" / "query" / "0099_c1s1_000001_00.jpg").touch()
    (run / "data" / "mine").mkdir()
    (run / "data" / "mine" / "0001_c1s1_000001_00.jpg").touch()
    with pytest.raises(RunFolderError) as info:
        clear_run_folder(run)
    shown = "data/Market-1501-v15.09.15/query/0099_c1s1_000001_00.jpg, data/mine/0001_c1s1"
    assert f"2 file(s) no run writes ({shown}" in str(info.value)
    shutil.rmtree(run / "data" / "mine")
    (run / "data" / "Market-1501-v15.09.15" / "query" / "0099_c1s1_000001_00.jpg").unlink()
    clear_run_folder(run)
    assert [p.name for p in run.iterdir()] == [LOCK_FILE]


def test_run_log_keeps_printed_lines_and_siamreid_records_appended(tmp_path: Path) -> None:
    logger = logging.getLogger("siamreid")
    level = logger.level
    with run_log(tmp_path):
        pass
    assert not (tmp_path / LOG_FILE).exists()  # nothing printed: no file (a refused run)
    with run_log(tmp_path) as note:
        note("before training: rank1 0.100  mAP 0.050")
        logging.getLogger("siamreid.training.trainer").info("epoch 1/2  loss 1.0")
        logging.getLogger("other").warning("not siamreid's")
    assert logger.level == level

    def fail(note: Callable[[str], None]) -> None:
        note("resumed")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError), run_log(tmp_path) as note:
        fail(note)
    lines = (tmp_path / LOG_FILE).read_text("utf-8").splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == [
        "before training: rank1 0.100  mAP 0.050",
        "epoch 1/2  loss 1.0",
        "resumed",
        "stopped by RuntimeError: disk full",
    ]
    assert all(line.split(" ", 3)[2] == "INFO" for line in lines)


def test_overwrite_clears_the_log_best_checkpoint_and_tracker_files_a_run_writes(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path / "run")
    best = run / "train" / "checkpoints" / "best_epoch_0003"
    best.mkdir(parents=True)
    for name in ("model.safetensors", "state.pt", "meta.json"):
        (best / name).write_bytes(b"the run's")
    (run / "train" / "checkpoints" / "best.json").write_text("{}")
    (run / "train" / "trackers.json").write_text("{}")
    offline = run / "train" / "wandb" / "offline-run-1" / "files"
    offline.mkdir(parents=True)
    (offline / "config.yaml").write_text("w&b's own")
    (run / LOG_FILE).write_text("epoch 1/3 ...\n")
    check_run_folder(run, resume=False, overwrite=True)  # nothing foreign: no refusal
    clear_run_folder(run)
    assert [p.name for p in run.iterdir()] == [LOCK_FILE]
