"""Helpers of the reliability tests: ``siamreid`` run as users run it, folder snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# A recipe that trains in seconds: timm's 0.4M-parameter test ResNet at 64x32, 3 short epochs.
TINY_RECIPE: dict[str, Any] = {
    "model": {
        "backbone": "test_resnet",
        "embedding_dim": 16,
        "pretrained": False,
        "input_size": [64, 32],
    },
    "data": {"dataset": "market1501"},
    "trainer": {
        "epochs": 3,
        "seed": 7,
        "eval_every": 100,
        "sampling": {"p": 4, "k": 2},
        "optim": {"lr": 0.01},
        "schedule": {"kind": "constant", "warmup_epochs": 0},
        "augment": {"height": 64, "width": 32, "pad": 2, "random_erasing_prob": 0.5},
        "runtime": {"max_steps_per_epoch": 3, "num_workers": 0},
        "output": {"progress": False, "tensorboard": False},
    },
}


def siamreid(
    *args: object, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m siamreid ARGS`` in a fresh process, as a user runs it (``env`` added)."""
    env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "siamreid", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (the writer lock aside) with the sha256 of its bytes."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != ".siamreid.lock":
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a failed command (no traceback)."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]
