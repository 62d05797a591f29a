"""``benchmarks/bench_gpu.py`` runs end to end without a GPU (``--cpu-smoke``), so the one call
that a lent GPU allows is not spent finding a typo; and its smoke numbers never reach the docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
DOC = BENCHMARKS.parent / "docs" / "benchmarks.md"


def test_cpu_smoke_runs_every_part_and_writes_a_temporary_page(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_gpu.py"), "--cpu-smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["errors"] == []
    assert results["skipped"] == []
    assert [(r["p"], r["k"], r["compile"]) for r in results["throughput"]] == [
        (4, 2, False),
        (4, 2, True),
    ]
    for row in results["throughput"]:
        assert row["trainer"] > 0
        assert row["bare"] > 0
        assert row["ratio"] == row["trainer"] / row["bare"]
    epoch = results["epoch"]
    assert len(epoch["epochs"]) == 2
    assert all(e["steps"] == 2 for e in epoch["epochs"])
    assert all(0.0 <= e["wait_share"] <= 1.0 for e in epoch["epochs"])
    assert epoch["bound"] in ("input pipeline", "GPU compute")
    assert epoch["validation_s"] > 0
    assert epoch["projected_with_validation_s"] > epoch["projected_seconds"]
    assert 0.0 < results["eval"]["mAP"] <= 1.0
    assert 0.0 < results["eval"]["mAP_reranked"] <= 1.0
    # Smoke numbers go to a temporary copy of the page, never to docs/benchmarks.md.
    written = Path(proc.stdout.strip().splitlines()[-1].removeprefix("wrote "))
    assert written.resolve() != DOC.resolve()
    page = written.read_text()
    assert "<!-- bench:gpu:start -->" in page
    assert "<!-- bench:gpu:end -->" in page
    assert "Projected 120-epoch recipe" in page
    assert "CPU only (--cpu-smoke)" in page


def test_record_writes_the_section_from_a_results_file(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(BENCHMARKS))
    results = {
        "machine": "one NVIDIA H200 (140 GiB, CUDA 13.0); host: 2026-11-30",
        "backbone": "efficientnet_b0",
        "input_size": [256, 128],
        "precision": "bf16",
        "throughput": [
            {
                "p": 16,
                "k": 4,
                "compile": False,
                "workers": 8,
                "steps": 80,
                "warm": 20,
                "trainer": 950.0,
                "bare": 1000.0,
                "ratio": 0.95,
                "rates": {"trainer": [950.0, 950.0], "bare": [1000.0, 1000.0]},
            },
        ],
        "skipped": [3],
        "errors": ["5 (throughput): RuntimeError: inductor failed"],
    }
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nhand-written text\n")
    bench_gpu.record(results, doc)
    page = doc.read_text()
    assert page.startswith("# Benchmarks\n\nhand-written text\n")
    assert "| 16x4 (64) | no | 60 | 950 | 1000 | **0.950** |" in page
    assert "_Measured on one NVIDIA H200 (140 GiB, CUDA 13.0); host: 2026-11-30._" in page
    assert "Skipped for time: measurements [3]" in page
    assert "Failed: measurement 5 (throughput): RuntimeError: inductor failed" in page
