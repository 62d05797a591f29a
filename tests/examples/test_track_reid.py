"""examples/track_reid.py --smoke: the enrol / calibrate / identify loop on synthetic crops."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from siamreid.data.samples import ReidSplits


@pytest.fixture(scope="module")
def example(example_module: Callable[[str], ModuleType]) -> ModuleType:
    return example_module("track_reid")


def test_smoke_run_decides_every_crop_by_the_threshold(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = example.main(["--smoke", "--out", str(tmp_path), "--show", "6"])
    out = capsys.readouterr().out
    lines = re.findall(r"-> (new person|person (\d{4})) +\(nearest (\d{4}), d=([\d.]+)\)", out)
    assert len(lines) == 6
    for said, named, nearest, distance in lines:
        if said == "new person":
            assert float(distance) > summary["threshold"] - 1e-3
        else:
            assert named == nearest
            assert float(distance) <= summary["threshold"] + 1e-3
    splits = example.load_splits(example.DataConfig(root=str(tmp_path / "data")))
    roles = example.split_identities(splits, 0)
    crops = [s for s in splits.query if s.pid in roles.enrolled | roles.unseen]
    assert summary["known_crops"] + summary["unseen_crops"] == len(crops)
    assert summary["known_identified"] + summary["known_called_new"] <= 1.0
    for key in ("known_identified", "known_called_new", "unseen_called_new"):
        assert 0.0 <= summary[key] <= 1.0


def test_identity_roles_are_disjoint_and_cover_the_queries(
    example: ModuleType, synthetic_splits: ReidSplits
) -> None:
    roles = example.split_identities(synthetic_splits, seed=3)
    groups = (roles.calibration, roles.enrolled, roles.unseen)
    assert all(groups)
    assert sum(len(g) for g in groups) == len(set.union(*groups))
    assert set.union(*groups) == {s.pid for s in synthetic_splits.query if s.pid > 0}
    assert example.split_identities(synthetic_splits, seed=3) == roles


def test_real_run_needs_a_checkpoint_and_data(example: ModuleType) -> None:
    with pytest.raises(SystemExit):
        example.main(["--root", "somewhere"])
