"""The quickstart page runs as written (synthetic data, tiny model, ten steps) and does so."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .markdown_blocks import blocks, run_python_blocks


def test_quickstart_has_python_to_run() -> None:
    assert blocks("quickstart.md", "python"), "docs/quickstart.md lost its Python block"


@pytest.mark.slow
def test_quickstart_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ns = run_python_blocks("quickstart.md")

    splits, metrics, result, retriever = ns["splits"], ns["metrics"], ns["result"], ns["retriever"]
    assert (tmp_path / "data" / "synthetic" / "Market-1501-v15.09.15" / "query").is_dir()
    assert len(ns["trainer"].history) == ns["trainer"].config.epochs
    # every synthetic query has a cross-camera match, so every query is scored
    assert metrics.num_valid_queries == len(splits.query)
    assert 0.0 <= metrics.rank1 <= 1.0
    assert 0.0 < metrics.mAP <= 1.0
    # the search ran over the whole gallery and returned gallery images, nearest first
    assert len(retriever) == len(splits.gallery)
    assert tuple(result.ids.shape) == (1, 5)
    pid_of = {str(s.path): s.pid for s in splits.gallery}
    assert [pid_of[p] for p in result.paths[0]] == result.ids[0].tolist()
    assert torch.all(result.distances[0][1:] >= result.distances[0][:-1])
