"""examples/cross_domain.py --smoke trains on one synthetic copy and reports every test set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

METRICS = {"rank1", "rank5", "rank10", "mAP", "mINP"}


@pytest.mark.slow
def test_smoke_run_reports_each_test_set(
    example_module: Callable[[str], ModuleType], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = example_module("cross_domain").main(["--smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["train_sets"] == ["synthetic"]
    assert list(saved["test_sets"]) == ["synthetic", "synthetic seed 1"]
    for results in saved["test_sets"].values():
        assert results["before"].keys() == results["after"].keys() == METRICS
    # the familiar keys are the first test set's
    assert saved["after"] == saved["test_sets"]["synthetic"]["after"]
    assert saved["test_sets"]["synthetic seed 1"] != saved["test_sets"]["synthetic"]
    assert report["test_sets"] == saved["test_sets"]
    recipe = yaml.safe_load((tmp_path / "recipe.yaml").read_text())
    assert [s["seed"] for s in recipe["data"]["test"]] == [0, 1]
    assert recipe["model"]["num_classes"] == 8  # sized from the training copy alone
    table = capsys.readouterr().out.split("cross-domain results")[-1]
    rows = [line for line in table.splitlines() if line.strip().startswith("synthetic")]
    assert [r.split("|")[0].strip() for r in rows] == ["synthetic", "synthetic seed 1"]
    rank1 = 100 * saved["test_sets"]["synthetic seed 1"]["after"]["rank1"]
    assert f"{rank1:6.1f}" in rows[1]


def test_without_datasets_the_example_says_what_to_pass(
    example_module: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit):
        example_module("cross_domain").main(["--out", str(tmp_path)])
