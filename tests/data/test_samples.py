"""Samples and splits: label arrays, camera presence and the torchreid-style summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from siamreid.data.samples import ReidSample, ReidSplits


def _sample(pid: int, camid: int | None) -> ReidSample:
    return ReidSample(Path(f"{pid}_{camid}.jpg"), pid, camid)


SPLITS = ReidSplits(
    train=[_sample(0, 0), _sample(0, 1), _sample(1, 2)],
    query=[_sample(7, 0), _sample(8, 1)],
    gallery=[_sample(7, 1), _sample(8, 0), _sample(0, 2), _sample(9, 3)],
    name="toy",
    notes=("camera 6 has no query",),
)


def test_label_arrays() -> None:
    pids = ReidSplits.pids(SPLITS.gallery)
    assert pids.dtype == np.int64
    assert pids.tolist() == [7, 8, 0, 9]
    camids = ReidSplits.camids(SPLITS.gallery)
    assert camids is not None
    assert camids.tolist() == [1, 0, 2, 3]
    assert ReidSplits.pids([]).shape == (0,)


def test_one_sample_without_a_camera_means_no_camera_array() -> None:
    assert ReidSplits.camids([_sample(1, 0), _sample(2, None)]) is None
    assert ReidSplits.camids([]) is None


def test_counts_and_camera_presence() -> None:
    assert SPLITS.num_train_pids == 2
    assert SPLITS.has_cameras
    no_cams = ReidSplits(train=[], query=[_sample(1, None)], gallery=[_sample(1, 0)])
    assert not no_cams.has_cameras
    assert no_cams.name == "dataset"


def test_summary_table() -> None:
    lines = SPLITS.summary().splitlines()
    assert lines[0] == "=> toy loaded"
    rows = {
        line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]]
        for line in lines
        if "|" in line and "subset" not in line
    }
    assert rows == {"train": ["2", "3", "3"], "query": ["2", "2", "2"], "gallery": ["4", "4", "4"]}
    assert lines[-1] == "  note: camera 6 has no query"


def test_summary_says_n_a_without_cameras() -> None:
    splits = ReidSplits(train=[_sample(0, None)], query=[], gallery=[])
    train = next(line for line in splits.summary().splitlines() if "train" in line)
    assert train.split("|")[-1].strip() == "n/a"
