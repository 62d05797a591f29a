"""Market-1501 adapter: filename round-trip, layout errors, junk/distractor rules, relabelling."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.datasets.market1501 import (
    Market1501,
    format_market1501_name,
    parse_market1501_name,
)
from siamreid.errors import DatasetLayoutError

# (folder, pid, 1-based camera) of a hand-made tree; file names are built without the formatter.
TREE = [
    ("bounding_box_train", 2, 1),
    ("bounding_box_train", 2, 3),
    ("bounding_box_train", 7, 2),
    ("bounding_box_train", 11, 6),
    ("bounding_box_train", -1, 1),
    ("query", 3, 1),
    ("query", 5, 2),
    ("bounding_box_test", 3, 2),
    ("bounding_box_test", 5, 1),
    ("bounding_box_test", 5, 4),
    ("bounding_box_test", 0, 5),
    ("bounding_box_test", -1, 3),
]


def _name(pid: int, cam: int, frame: int) -> str:
    pid_text = "-1" if pid == -1 else str(pid).zfill(4)
    return pid_text + "_c" + str(cam) + "s1_" + str(frame).zfill(6) + "_01.jpg"


def _make_tree(base: Path, entries: list[tuple[str, int, int]] = TREE) -> Path:
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    for frame, (folder, pid, cam) in enumerate(entries):
        (base / folder / _name(pid, cam, frame)).write_bytes(b"")  # the adapter never decodes
    return base


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _make_tree(tmp_path / "Market-1501-v15.09.15")


@given(
    pid=st.integers(0, 9999) | st.just(-1),
    camid=st.integers(0, 8),
    sequence=st.integers(0, 99),
    frame=st.integers(0, 999_999),
    box=st.integers(0, 99),
)
def test_every_valid_name_round_trips(
    pid: int, camid: int, sequence: int, frame: int, box: int
) -> None:
    name = format_market1501_name(pid, camid, sequence=sequence, frame=frame, box=box)
    assert parse_market1501_name(name) == (pid, camid)
    pid_text, cam_seq, frame_text, box_text = name.removesuffix(".jpg").split("_")
    assert int(pid_text) == pid
    assert cam_seq == f"c{camid + 1}s{sequence}"
    assert (int(frame_text), int(box_text)) == (frame, box)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("0002_c1s1_000451_03.jpg", (2, 0)),
        ("-1_c3s2_000101_01.jpg", (-1, 2)),
        ("0000_c6s4_002202_05.jpg", (0, 5)),
        ("1501_c6s4_002202_05.JPG", (1501, 5)),
    ],
)
def test_real_names_parse(name: str, expected: tuple[int, int]) -> None:
    assert parse_market1501_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "2_c1s1_000451_03.jpg",  # pid not 4 digits
        "-2_c1s1_000451_03.jpg",  # negative pid other than -1
        "0002_c0s1_000451_03.jpg",  # camera 0 does not exist
        "0002_c1_000451_03.jpg",  # no sequence
        "0002c1s1_000451_03.jpg",
        "0002_c1s1_451_03.jpg",  # frame not 6 digits
        "0002_c1s1_000451_03.txt",
        "0002_c1s1_000451_03",
        "",
    ],
)
def test_invalid_names_raise(name: str) -> None:
    with pytest.raises(DatasetLayoutError, match=r"PPPP_cCsS_FFFFFF_BB\.jpg"):
        parse_market1501_name(name)


@given(st.from_regex(r"[A-Za-z_.][\w.\-]*", fullmatch=True))
def test_names_not_starting_with_a_pid_raise(name: str) -> None:
    with pytest.raises(DatasetLayoutError):
        parse_market1501_name(name)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pid": -2, "camid": 0}, "pid"),
        ({"pid": 10_000, "camid": 0}, "pid"),
        ({"pid": 1, "camid": 9}, "camid"),
        ({"pid": 1, "camid": 0, "frame": 10**6}, "frame"),
        ({"pid": 1, "camid": 0, "box": 100}, "box"),
    ],
)
def test_format_rejects_fields_out_of_range(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        format_market1501_name(**kwargs)


def test_load_applies_junk_distractor_and_relabel_rules(tree: Path) -> None:
    splits = Market1501(tree).load()
    assert splits.name == "Market1501"
    # train: junk dropped, original pids 2, 7, 11 relabelled 0, 1, 2 in order
    assert [(s.pid, s.camid) for s in splits.train] == [(0, 0), (0, 2), (1, 1), (2, 5)]
    assert [(s.pid, s.camid) for s in splits.query] == [(3, 0), (5, 1)]
    # gallery: junk dropped, distractor 0 kept, original pids
    assert sorted((s.pid, s.camid) for s in splits.gallery) == [(0, 4), (3, 1), (5, 0), (5, 3)]
    for split in (splits.train, splits.query, splits.gallery):
        names = [s.path.name for s in split]
        assert names == sorted(names)
    assert splits.num_train_pids == 3


def test_root_may_be_the_dataset_folder_or_its_parent(tree: Path) -> None:
    from_parent = Market1501(tree.parent).load()
    from_folder = Market1501(tree).load()
    assert from_parent == from_folder


def test_non_image_files_are_ignored(tree: Path) -> None:
    before = Market1501(tree).load()
    (tree / "bounding_box_train" / "Thumbs.db").write_bytes(b"\x00")
    (tree / "query" / "readme.txt").write_text("notes")
    (tree / "bounding_box_test" / "0002_c1s1_000451_03.jpg.md5").write_text("x")
    assert Market1501(tree).load() == before


@pytest.mark.parametrize("missing", ["bounding_box_train", "query", "bounding_box_test"])
def test_missing_split_folder_is_named(tree: Path, missing: str) -> None:
    for path in (tree / missing).iterdir():
        path.unlink()
    (tree / missing).rmdir()
    with pytest.raises(DatasetLayoutError, match=missing) as info:
        Market1501(tree).load()
    assert "Market-1501" in str(info.value)


def test_missing_root_names_the_path_and_the_source(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        Market1501(tmp_path / "nowhere").load()
    assert "nowhere" in str(info.value)
    assert "siamreid synth" in str(info.value)


def test_folder_without_dataset_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="bounding_box_train/"):
        Market1501(tmp_path).load()


@pytest.mark.parametrize(
    "entries",
    [
        [e for e in TREE if e[0] != "query"],  # empty query folder
        [e for e in TREE if e[0] != "bounding_box_test" or e[1] < 1],  # gallery: junk+distractor
    ],
)
def test_empty_split_raises(tmp_path: Path, entries: list[tuple[str, int, int]]) -> None:
    base = _make_tree(tmp_path, entries)
    with pytest.raises(DatasetLayoutError, match="no image of a real person"):
        Market1501(base).load()


def test_unparsable_file_name_is_named(tree: Path) -> None:
    (tree / "query" / "holiday_photo.jpg").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match=r"holiday_photo\.jpg") as info:
        Market1501(tree).load()
    assert "query" in str(info.value)


def test_published_gallery_counts_the_distractor_and_not_the_junk() -> None:
    # 19,732 files in bounding_box_test less 3,819 junk; the distractor pid 0 is one more id
    gallery = Market1501.published.gallery
    assert (gallery.ids, gallery.images) == (751, 19_732 - 3_819)
    assert Market1501.published.train.images == 12_936


def test_counts_that_differ_from_the_published_ones_are_noted(tree: Path) -> None:
    notes = Market1501(tree).load().notes
    assert len(notes) == 3
    assert notes[2].startswith("gallery has 3 ids / 4 images")
    assert "751 ids / 15,913 images" in notes[2]
