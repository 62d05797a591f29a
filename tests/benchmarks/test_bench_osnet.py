"""benchmarks/bench_osnet.py --quick: runs against BoxMOT's runtime and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("boxmot.reid.backends.pytorch_backend", reason="needs boxmot")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_quick_mode_runs_and_writes_nothing() -> None:
    doc = BENCHMARKS.parent / "docs" / "benchmarks.md"
    before = doc.read_text()
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_osnet.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| osnet_x0_25 | siamreid embed(crops) |" in proc.stdout
    assert "Fine-tuning at `configs/finetune_osnet_cpu.yaml`" in proc.stdout
    assert doc.read_text() == before
