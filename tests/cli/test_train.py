"""``siamreid train`` as users run it: an epoch line each epoch by default, -v/-q after the
sub-command, everything printed kept in the run's log.txt (appended on --resume), the best
epoch kept and named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from siamreid.cli.main import build_parser

TINY = {
    "model": {
        "backbone": "test_resnet",
        "embedding_dim": 16,
        "pretrained": False,
        "input_size": [64, 32],
    },
    "trainer": {
        "epochs": 2,
        "seed": 7,
        "sampling": {"p": 4, "k": 2},
        "optim": {"lr": 0.01},
        "schedule": {"kind": "constant", "warmup_epochs": 0},
        "runtime": {"max_steps_per_epoch": 2, "num_workers": 0},
        "output": {"progress": False, "tensorboard": False, "keep_best": True},
    },
}


def _train(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siamreid", "train", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg"},
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet"),
    [
        (["train"], False, False),
        (["-v", "train"], True, False),
        (["train", "-v"], True, False),
        (["train", "--quiet"], False, True),
        (["-v", "train", "-q"], True, True),  # -q wins (main's rule)
    ],
)
def test_verbosity_flags_are_taken_before_and_after_train(
    argv: list[str], verbose: bool, quiet: bool
) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose is verbose
    assert getattr(args, "quiet", False) is quiet


def test_verbose_and_quiet_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "-v", "-q"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_prints_each_epoch_keeps_a_log_and_the_best_epoch(
    tmp_path: Path, synthetic_root: Path
) -> None:
    recipe = tmp_path / "tiny.yaml"
    data = {"dataset": "market1501", "root": str(synthetic_root)}
    recipe.write_text(yaml.safe_dump({**TINY, "data": data}), encoding="utf-8")
    out = tmp_path / "run"
    proc = _train("--config", recipe, "--out", out, "-v")
    assert proc.returncode == 0, proc.stderr
    epoch_lines = [line for line in proc.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert all(" lr " in line and " img/s " in line and " mAP " in line for line in epoch_lines)

    log = (out / "log.txt").read_text("utf-8")
    for line in [*epoch_lines, *proc.stdout.splitlines()]:
        assert line in log, line  # everything printed, in the log
    rows = [json.loads(line) for line in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert all(row["mAP"] is not None and row["rank1"] is not None for row in rows)

    best = max(rows, key=lambda row: row["mAP"])  # max keeps the earlier of a tie
    report = json.loads((out / "metrics.json").read_text("utf-8"))
    assert report["best_epoch"] == report["model_epoch"] == best["epoch"]
    assert report["after"]["mAP"] == pytest.approx(best["mAP"])
    assert f"best epoch: {best['epoch']} of 2" in proc.stdout
    kept = load_file(
        str(out / "train" / "checkpoints" / f"best_epoch_{best['epoch']:04d}" / "model.safetensors")
    )
    saved = load_file(str(out / "model" / "model.safetensors"))
    assert all(torch.equal(saved[k], kept[k]) for k in kept)

    resumed = _train("--resume", "--out", out, "trainer.epochs=3", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == ""
    assert "epoch 3/3" not in resumed.stderr
    appended = (out / "log.txt").read_text("utf-8")
    assert appended.startswith(log)
    assert "epoch 3/3" in appended[len(log) :]
