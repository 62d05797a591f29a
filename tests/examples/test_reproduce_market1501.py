"""examples/reproduce_market1501.py --smoke runs the whole pipeline and writes the report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reproduce_market1501.py"


@pytest.mark.slow
def test_smoke_run_writes_the_demo_report(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("reproduce_market1501", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(["--smoke", "--out", str(tmp_path)])
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
