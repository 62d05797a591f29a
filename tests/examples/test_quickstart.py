"""examples/quickstart.py --smoke runs data → model → train → evaluate → search end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.mark.slow
def test_smoke_run_evaluates_and_searches(
    example_module: Callable[[str], ModuleType], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = example_module("quickstart").main(["--smoke", "--out", str(tmp_path)])

    splits, result = out["splits"], out["result"]
    assert (tmp_path / "data" / "Market-1501-v15.09.15" / "bounding_box_train").is_dir()
    assert splits.num_train_pids == 16
    for metrics in (out["before"], out["after"]):
        assert metrics.num_valid_queries == len(splits.query)
    pid_of = {str(s.path): s.pid for s in splits.gallery}
    assert [pid_of[p] for p in result.paths[0]] == result.ids[0].tolist()
    printed = capsys.readouterr().out
    assert "untrained: Rank-1" in printed
    assert f"(person {splits.query[0].pid})" in printed


def test_docstring_says_what_it_shows_and_how_long(
    example_module: Callable[[str], ModuleType],
) -> None:
    doc = example_module("quickstart").__doc__ or ""
    assert "Shows:" in doc
    assert "--smoke" in doc
    assert "minutes" in doc
