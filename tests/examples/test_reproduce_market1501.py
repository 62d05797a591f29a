"""examples/reproduce_market1501.py --smoke runs the whole pipeline and writes the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.mark.slow
def test_smoke_run_writes_the_demo_report(
    example_module: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    report = example_module("reproduce_market1501").main(["--smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        saved["before"].keys()
        == saved["after"].keys()
        == {
            "rank1",
            "rank5",
            "rank10",
            "mAP",
            "mINP",
        }
    )
    assert saved["epochs"] == report["epochs"] == 2
    assert saved["train_seconds"] > 0
    for name in ("losses.png", "ranked.png", "actmaps.png", "recipe.yaml", "train/metrics.jsonl"):
        assert (tmp_path / name).stat().st_size > 0, name
    recipe = (tmp_path / "recipe.yaml").read_text()
    assert "num_classes: 16" in recipe  # the identity classifier was sized from the data
