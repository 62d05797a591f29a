"""ImageFolderReid: the seeded identity split, query rule, cameras and their absence."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.data.datasets.folder import ImageFolderReid
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError

# identity -> images per camera (1-based camera numbers in the file names)
Layout = dict[str, dict[int, int]]


def _write(root: Path, layout: Layout, cameras: bool = True) -> Path:
    for identity, per_camera in layout.items():
        (root / identity).mkdir(parents=True)
        for cam, count in per_camera.items():
            for j in range(count):
                name = f"frame{j:03d}_c{cam}.jpg" if cameras else f"img{cam}_{j:03d}.jpg"
                (root / identity / name).write_bytes(b"")  # the adapter never decodes
    return root


def _check_protocol(splits: ReidSplits, total: int) -> None:
    everything = [*splits.train, *splits.query, *splits.gallery]
    assert len(everything) == total
    assert len({s.path for s in everything}) == total
    assert {s.pid for s in splits.train} == set(range(splits.num_train_pids))
    train_folders = {s.path.parent for s in splits.train}
    assert not train_folders & {s.path.parent for s in (*splits.query, *splits.gallery)}
    gallery = defaultdict(set)
    for s in splits.gallery:
        gallery[s.pid].add(s.camid)
    for q in splits.query:
        others = gallery[q.pid] - {q.camid} if q.camid is not None else gallery[q.pid]
        assert others, f"query {q.path} has no valid match"
    assert max(Counter((q.pid, q.camid) for q in splits.query).values()) == 1


LAYOUTS = st.dictionaries(
    st.sampled_from([f"person_{i:02d}" for i in range(10)]),
    st.dictionaries(st.integers(1, 4), st.integers(1, 3), min_size=1, max_size=4),
    min_size=2,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(layout=LAYOUTS, seed=st.integers(0, 3))
def test_split_keeps_the_protocol(
    tmp_path_factory: pytest.TempPathFactory, layout: Layout, seed: int
) -> None:
    root = _write(tmp_path_factory.mktemp("ids"), layout)
    try:
        splits = ImageFolderReid(root, seed=seed).load()
    except DatasetLayoutError as err:  # legitimate only when no test identity can be queried
        message = str(err)
        splits = None
    if splits is None:
        assert "can be queried" in message
        return
    _check_protocol(splits, sum(sum(c.values()) for c in layout.values()))
    assert splits.has_cameras
    assert splits.notes == ()


def test_cameras_map_to_sorted_zero_based_ids(tmp_path: Path) -> None:
    layout = {f"p{i}": {1: 2, 2: 2, 10: 2} for i in range(4)}
    splits = ImageFolderReid(_write(tmp_path, layout), seed=0).load()
    by_name = {s.path.name: s.camid for s in (*splits.train, *splits.query, *splits.gallery)}
    assert {by_name["frame000_c1.jpg"], by_name["frame000_c2.jpg"]} == {0, 1}
    assert by_name["frame000_c10.jpg"] == 2
    # the first-found image of each camera of each test identity is its query
    assert len(splits.query) == 3 * 2


def test_same_seed_same_split_other_seeds_differ(tmp_path: Path) -> None:
    root = _write(tmp_path, {f"p{i:02d}": {1: 2, 2: 2} for i in range(10)})
    first = ImageFolderReid(root, seed=0).load()
    assert ImageFolderReid(root, seed=0).load() == first
    others = [ImageFolderReid(root, seed=s).load() for s in (1, 2, 3)]
    assert any(
        {x.path.parent for x in o.train} != {x.path.parent for x in first.train} for o in others
    )
    assert len({x.path.parent for x in first.train}) == 5  # train_fraction 0.5


def test_without_cameras_one_query_per_identity_and_a_note(tmp_path: Path) -> None:
    layout = {f"p{i}": {1: 3} for i in range(6)}
    splits = ImageFolderReid(_write(tmp_path, layout, cameras=False), seed=0).load()
    assert all(s.camid is None for s in (*splits.train, *splits.query, *splits.gallery))
    assert not splits.has_cameras
    assert len(splits.query) == 3
    assert len({q.pid for q in splits.query}) == 3
    assert len(splits.notes) == 1
    assert "only the query image itself is left out" in splits.notes[0]
    assert "note: no camera ids" in splits.summary()
    _check_protocol(splits, 18)


def test_camera_pattern_none_ignores_cameras(tmp_path: Path) -> None:
    root = _write(tmp_path, {f"p{i}": {1: 2, 2: 1} for i in range(4)})
    splits = ImageFolderReid(root, camera_pattern=None).load()
    assert not splits.has_cameras
    assert "None" in splits.notes[0]


def test_custom_camera_pattern(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"p{i}").mkdir()
        for cam in (3, 5):
            (tmp_path / f"p{i}" / f"shot-cam{cam}.png").write_bytes(b"")
    splits = ImageFolderReid(tmp_path, camera_pattern=r"cam(\d)").load()
    assert splits.has_cameras
    assert {s.camid for s in splits.gallery} | {s.camid for s in splits.query} == {0, 1}


def test_mixed_camera_names_name_the_offending_file(tmp_path: Path) -> None:
    root = _write(tmp_path, {f"p{i}": {1: 2} for i in range(3)})
    (root / "p1" / "nocamera.jpg").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match=r"nocamera\.jpg"):
        ImageFolderReid(root).load()


def test_missing_root_and_too_few_identities(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        ImageFolderReid(tmp_path / "nowhere").load()
    root = _write(tmp_path / "one", {"p0": {1: 3}})
    (root / "empty_identity").mkdir()
    (root / "empty_identity" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetLayoutError, match="at least two"):
        ImageFolderReid(root).load()


def test_unqueryable_test_identities_raise(tmp_path: Path) -> None:
    root = _write(tmp_path, {"p0": {1: 1}, "p1": {1: 1}})
    with pytest.raises(DatasetLayoutError, match="can be queried"):
        ImageFolderReid(root).load()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"camera_pattern": "c(\\d"}, "not a valid regex"),
        ({"camera_pattern": "c\\d+"}, "no group"),
        ({"train_fraction": 0.0}, "train_fraction"),
        ({"train_fraction": 1.0}, "train_fraction"),
    ],
)
def test_bad_arguments_raise_config_error(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        ImageFolderReid(tmp_path, **kwargs)  # type: ignore[arg-type]
