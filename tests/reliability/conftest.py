"""Fixtures of the reliability tests: the tiny recipe and one finished reference run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from reliability_helpers import TINY_RECIPE, siamreid


@pytest.fixture(scope="session")
def recipe_file(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    """The tiny recipe on the session's synthetic Market-1501, as a YAML file."""
    recipe = {**TINY_RECIPE, "data": {"dataset": "market1501", "root": str(synthetic_root)}}
    path = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, recipe_file: Path) -> Path:
    """One uninterrupted ``siamreid train`` run of the tiny recipe (0 workers)."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    proc = siamreid("train", "--config", recipe_file, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out
