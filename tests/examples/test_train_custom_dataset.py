"""examples/train_custom_dataset.py --smoke lays out a folder per person, trains, evaluates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def test_people_folder_layout_is_what_the_docs_describe(
    example_module: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    root = example_module("train_custom_dataset").build_people_folder(tmp_path, people=4)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    assert [p.name for p in folders] == [f"person_{i:04d}" for i in range(1, 5)]
    for folder in folders:
        names = sorted(p.name for p in folder.iterdir())
        assert names
        assert all(n.startswith("cam") and n.endswith(".jpg") for n in names)
        # one running index per person: no two images share it
        assert len({n.split("_")[1] for n in names}) == len(names)


@pytest.mark.slow
def test_smoke_run_splits_trains_and_evaluates_both_ways(
    example_module: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    out = example_module("train_custom_dataset").main(["--smoke", "--out", str(tmp_path)])

    splits = out["splits"]
    assert splits.has_cameras
    train_people = {s.path.parent.name for s in splits.train}
    test_people = {s.path.parent.name for s in (*splits.query, *splits.gallery)}
    assert len(train_people) == len(test_people) == 8  # train_fraction 0.5 of 16
    assert not train_people & test_people
    with_cameras, without = out["with_cameras"], out["without_cameras"]
    assert with_cameras.num_valid_queries == len(splits.query)
    assert without.num_valid_queries == len(splits.query)
