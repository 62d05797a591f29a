"""Same recipe and seed, same model to the bit: twice, with workers, and across SIGKILL + resume.

Each test runs ``siamreid train`` in subprocesses, the way users do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from reliability_helpers import siamreid
from safetensors.torch import load_file

from siamreid import SiameseEmbedder, TrainerConfig
from siamreid.runs.pipeline import build_model
from siamreid.training.recipe import Recipe

WEIGHTS = Path("model") / "model.safetensors"


def test_build_model_is_seeded_and_leaves_the_global_rng_alone() -> None:
    recipe = Recipe(
        model=SiameseEmbedder("test_resnet", 8, pretrained=False).config,
        trainer=TrainerConfig(seed=5),
    )
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, second = build_model(recipe), build_model(recipe)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream is untouched
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_same_recipe_and_seed_give_byte_identical_saved_models(
    tmp_path: Path, recipe_file: Path, finished_run: Path, workers: int
) -> None:
    out = tmp_path / f"run_workers_{workers}"
    proc = siamreid(
        "train", "--config", recipe_file, "--out", out, f"trainer.runtime.num_workers={workers}"
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / WEIGHTS).read_bytes() == (finished_run / WEIGHTS).read_bytes()
    checkpoints = sorted((out / "train" / "checkpoints").glob("epoch_*"))
    reference = sorted((finished_run / "train" / "checkpoints").glob("epoch_*"))
    assert [p.name for p in checkpoints] == [p.name for p in reference]
    for mine, theirs in zip(checkpoints, reference, strict=True):
        a = load_file(str(mine / "model.safetensors"))
        b = load_file(str(theirs / "model.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a), mine.name


def _latest_epoch(out: Path) -> int:
    try:
        return int(json.loads((out / "train/checkpoints/latest.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_in_a_later_epoch_then_resume_ends_bit_identical(
    tmp_path: Path, recipe_file: Path, finished_run: Path
) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siamreid",
            "train",
            "--config",
            str(recipe_file),
            "--out",
            str(out),
            "trainer.runtime.max_steps_per_epoch=3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    deadline = time.monotonic() + 600
    while _latest_epoch(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # epoch 1 is saved: the kill lands in epoch 2 or later
    assert proc.wait() == -signal.SIGKILL
    assert not (out / WEIGHTS).exists(), "the run finished before it could be killed"
    assert _latest_epoch(out) >= 1

    resumed = siamreid("train", "--resume", "--out", out)  # the run's own recipe.yaml
    assert resumed.returncode == 0, resumed.stderr
    assert (out / WEIGHTS).read_bytes() == (finished_run / WEIGHTS).read_bytes()
