"""Synthetic MOTChallenge sequences: the MOT17 layout, what gt.txt records (occlusion,
truncation, ignored boxes), determinism, and that MOTChallenge reads them with its defaults."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from siamreid._paths import MANIFEST
from siamreid.data.datasets._mot_format import MOTBox, parse_gt, parse_seqinfo
from siamreid.data.datasets.mot import MOTChallenge
from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import ConfigError, DatasetLayoutError

W, H = 320, 240


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 60-frame sequences of 4 people: what MOTChallenge's defaults need."""
    return make_synthetic_mot(
        tmp_path_factory.mktemp("synthetic_mot"), num_sequences=2, num_frames=60, num_people=4
    )


def _gt(root: Path) -> dict[str, list[MOTBox]]:
    return {
        p.parent.parent.name: parse_gt(p, max_frame=60) for p in sorted(root.glob("*/*/gt/gt.txt"))
    }


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_writes_the_mot17_layout(root: Path) -> None:
    assert sorted(str(p.relative_to(root)) for p in root.glob("*/SYN-*")) == [
        "test/SYN-02",
        "train/SYN-01",
    ]
    assert [p.name for p in (root / "train").iterdir() if p.name.startswith(".")] == [MANIFEST]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary left
    for seq in root.glob("*/SYN-*"):
        info = parse_seqinfo(seq / "seqinfo.ini")
        assert (info.name, info.length, info.width, info.height) == (seq.name, 60, W, H)
        frames = sorted(p.name for p in (seq / "img1").iterdir())
        assert frames == [f"{i:06d}.jpg" for i in range(1, 61)]
        with Image.open(seq / "img1" / "000001.jpg") as img:
            assert (img.format, img.size) == ("JPEG", (W, H))


def test_gt_records_pedestrians_and_boxes_to_ignore(root: Path) -> None:
    for boxes in _gt(root).values():
        kinds = {(b.cls, b.flag) for b in boxes}
        assert kinds == {(1, 1), (7, 0), (8, 0), (9, 0)}
        assert {b.track_id for b in boxes if b.cls == 1} == {1, 2, 3, 4}
        people = [b for b in boxes if b.cls == 1]
        assert any(b.visibility < 0.3 for b in people)  # occluded or mostly out of the frame
        assert any(b.visibility == 1.0 for b in people)
        assert any(b.left < 0 or b.left + b.width > W for b in people)  # entering or leaving
        assert [(b.track_id, b.frame) for b in boxes] == sorted(
            (b.track_id, b.frame) for b in boxes
        )


def _overlap(a: MOTBox, b: MOTBox) -> bool:
    return (
        a.left < b.left + b.width
        and b.left < a.left + a.width
        and a.top < b.top + b.height
        and b.top < a.top + a.height
    )


def test_visibility_is_one_exactly_when_nothing_hides_the_person(root: Path) -> None:
    for boxes in _gt(root).values():
        by_frame = defaultdict(list)
        for b in boxes:
            by_frame[b.frame].append(b)
        for b in boxes:
            if b.cls != 1:
                continue
            inside = b.left >= 0 and b.top >= 0 and b.left + b.width <= W and b.top + b.height <= H
            alone = not any(o is not b and _overlap(b, o) for o in by_frame[b.frame])
            if inside and alone:
                assert b.visibility == 1.0, b
            if b.visibility < 1.0:
                assert not (inside and alone), b


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kwargs = {"num_sequences": 2, "num_frames": 4, "num_people": 2}
    first = _hashes(make_synthetic_mot(tmp_path / "a", seed=3, **kwargs))
    assert first == _hashes(make_synthetic_mot(tmp_path / "b", seed=3, **kwargs))
    other = _hashes(make_synthetic_mot(tmp_path / "c", seed=4, **kwargs))
    assert other.keys() == first.keys()
    assert other["train/SYN-01/gt/gt.txt"] != first["train/SYN-01/gt/gt.txt"]
    assert other["train/SYN-01/img1/000001.jpg"] != first["train/SYN-01/img1/000001.jpg"]


def test_motchallenge_reads_it_with_its_defaults(root: Path, tmp_path: Path) -> None:
    splits = MOTChallenge(root, cache_dir=tmp_path).load()
    assert splits.train
    assert splits.query
    assert splits.gallery
    assert splits.num_train_pids <= 4
    # only pedestrians (class 1, flag 1) are cut: track ids 5.. are the ignored boxes
    tracks = {int(s.path.stem[:6]) for s in splits.train + splits.query + splits.gallery}
    assert tracks <= {1, 2, 3, 4}


def test_an_existing_tree_is_kept_unless_overwritten(tmp_path: Path) -> None:
    kwargs = {"num_sequences": 2, "num_frames": 2, "num_people": 1}
    make_synthetic_mot(tmp_path, **kwargs)
    with pytest.raises(DatasetLayoutError, match=r"train.*already exists.*overwrite=True"):
        make_synthetic_mot(tmp_path, **kwargs)
    make_synthetic_mot(tmp_path, num_sequences=4, num_frames=2, num_people=1, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == [MANIFEST, "SYN-03", "SYN-04"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_sequences": 1}, "num_sequences"),
        ({"num_frames": 1}, "num_frames"),
        ({"num_people": 0}, "num_people"),
        ({"frame_size": (32, 240)}, r"frame_size\[0\]"),
    ],
)
def test_counts_are_checked(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make_synthetic_mot(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())
