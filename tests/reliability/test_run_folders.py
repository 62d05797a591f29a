"""Run folders are never clobbered: refusals change no file, --overwrite leaves nothing old.

Every case runs ``siamreid train`` in a subprocess and compares the folder's bytes before and
after.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import one_line_error, siamreid, snapshot

from siamreid._io import writer_lock
from siamreid.errors import RunFolderError
from siamreid.runs.folder import check_run_folder


@pytest.fixture
def run_copy(tmp_path: Path, finished_run: Path) -> Path:
    """A private copy of the finished reference run."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def test_training_into_a_finished_run_is_refused_naming_both_ways_out(
    run_copy: Path, recipe_file: Path
) -> None:
    before = snapshot(run_copy)
    line = one_line_error(siamreid("train", "--config", recipe_file, "--out", run_copy))
    assert "already holds a run" in line
    assert "--resume" in line
    assert "--overwrite" in line
    assert snapshot(run_copy) == before


@pytest.mark.slow
def test_overwrite_empties_the_folder_before_the_new_run(run_copy: Path, recipe_file: Path) -> None:
    stale = run_copy / "train" / "checkpoints" / "epoch_0099"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"old")
    (stale / "state.pt").write_bytes(b"old")
    proc = siamreid(
        "train", "--config", recipe_file, "--out", run_copy, "--overwrite", "trainer.epochs=1"
    )
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert sorted(p.name for p in (run_copy / "train" / "checkpoints").glob("epoch_*")) == [
        "epoch_0001"
    ]
    assert (run_copy / "model" / "model.safetensors").is_file()


def test_overwrite_names_the_users_own_files_and_deletes_nothing(
    run_copy: Path, recipe_file: Path, finished_run: Path
) -> None:
    check_run_folder(finished_run, resume=False, overwrite=True)  # a run's own files only
    (run_copy / "my-notes.txt").write_text("mine")
    (run_copy / "train" / "checkpoints" / "best-by-hand").mkdir()
    before = snapshot(run_copy)
    line = one_line_error(
        siamreid("train", "--config", recipe_file, "--out", run_copy, "--overwrite")
    )
    assert "2 file(s) no run writes (my-notes.txt, train/checkpoints/best-by-hand/)" in line
    assert "nothing was changed" in line
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.optim.lr=0.5", r"trainer.optim.lr (0.01 in recipe.yaml, 0.5 now)"),
        ("model.embedding_dim=32", "model.embedding_dim"),
        ("trainer.seed=8", "trainer.seed"),
        ("trainer.runtime.device=tpu9", "not a device name"),
        ("trainer.runtime.device=cuda:7", "no such device"),
        ("trainer.epochs=true", "trainer.epochs"),
    ],
)
def test_a_refused_resume_changes_no_file(
    run_copy: Path, recipe_file: Path, override: str, expected: str
) -> None:
    before = snapshot(run_copy)
    line = one_line_error(
        siamreid("train", "--config", recipe_file, "--out", run_copy, "--resume", override)
    )
    assert expected in line
    assert snapshot(run_copy) == before


def test_a_resume_whose_checkpoint_is_corrupt_changes_no_file(
    run_copy: Path, recipe_file: Path
) -> None:
    (run_copy / "train" / "checkpoints" / "latest.json").write_text("{not json")
    before = snapshot(run_copy)
    line = one_line_error(siamreid("train", "--config", recipe_file, "--out", run_copy, "--resume"))
    assert "latest.json" in line
    assert snapshot(run_copy) == before


def test_a_folder_of_other_files_is_never_written(tmp_path: Path, recipe_file: Path) -> None:
    mine = tmp_path / "holiday-photos"
    mine.mkdir()
    (mine / "beach.jpg").write_bytes(b"precious")
    for flag in ("--overwrite", "--resume", None):
        args = ["train", "--config", recipe_file, "--out", mine] + ([flag] if flag else [])
        line = one_line_error(siamreid(*args))
        assert "holds files of no siamreid run (beach.jpg)" in line
    assert [p.name for p in mine.iterdir()] == ["beach.jpg"]  # not even a lock file was added
    assert (mine / "beach.jpg").read_bytes() == b"precious"


def test_a_missing_dataset_folder_is_refused_before_anything_is_written(
    tmp_path: Path, recipe_file: Path
) -> None:
    out = tmp_path / "new-run"
    line = one_line_error(
        siamreid("train", "--config", recipe_file, "--out", out, f"data.root={tmp_path / 'nope'}")
    )
    assert "data.root" in line
    assert not out.exists()


def test_a_second_writer_of_one_run_folder_gets_a_clear_error(
    tmp_path: Path, recipe_file: Path
) -> None:
    out = tmp_path / "busy"
    # another process holds the folder: a real lock held by a separate Python process
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from siamreid._io import writer_lock; "
            "from siamreid.errors import RunFolderError\n"
            f"with writer_lock(Path({str(out)!r}), what='run folder', error=RunFolderError):\n"
            "    print('locked', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        line = one_line_error(siamreid("train", "--config", recipe_file, "--out", out))
        assert "Another process is writing the run folder" in line
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(out, what="run folder", error=RunFolderError):  # released on exit
        pass


def test_offline_pretrained_weights_fail_fast_in_recipe_terms(
    tmp_path: Path, recipe_file: Path
) -> None:
    out = tmp_path / "offline"
    proc = siamreid(
        "train", "--config", recipe_file, "--out", out, "model.pretrained=true",
        env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    line = one_line_error(proc)
    assert "model.weights=PATH" in line
    assert "model.pretrained=false" in line
    assert not out.exists()  # refused before anything was read or written
