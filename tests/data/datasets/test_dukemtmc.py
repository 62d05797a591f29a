"""DukeMTMC-reID adapter: filename round-trip, relabelling, cameras, layout errors, count notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.datasets.dukemtmc import DukeMTMCReID, format_dukemtmc_name, parse_dukemtmc_name
from siamreid.data.datasets.published import PublishedCounts, SplitCounts
from siamreid.errors import DatasetLayoutError

# (folder, pid, 1-based camera) of a hand-made tree; names are built without the formatter.
TREE = [
    ("bounding_box_train", 5, 1),
    ("bounding_box_train", 5, 8),
    ("bounding_box_train", 2, 3),
    ("bounding_box_train", 7140, 2),
    ("query", 1, 2),
    ("query", 3, 7),
    ("bounding_box_test", 1, 5),
    ("bounding_box_test", 3, 1),
    ("bounding_box_test", 3, 6),
    ("bounding_box_test", 9, 8),  # a gallery-only (distractor) identity, with its own pid
]


def _make_tree(base: Path, entries: list[tuple[str, int, int]] = TREE) -> Path:
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    for frame, (folder, pid, cam) in enumerate(entries):
        name = str(pid).zfill(4) + "_c" + str(cam) + "_f" + str(46182 + frame).zfill(7) + ".jpg"
        (base / folder / name).write_bytes(b"")  # the adapter never decodes
    return base


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _make_tree(tmp_path / "DukeMTMC-reID")


@given(pid=st.integers(0, 9999), camid=st.integers(0, 7), frame=st.integers(0, 9_999_999))
def test_every_valid_name_round_trips(pid: int, camid: int, frame: int) -> None:
    name = format_dukemtmc_name(pid, camid, frame=frame)
    assert parse_dukemtmc_name(name) == (pid, camid)
    pid_text, cam_text, frame_text = name.removesuffix(".jpg").split("_")
    assert (int(pid_text), cam_text, int(frame_text[1:])) == (pid, f"c{camid + 1}", frame)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("0001_c2_f0046182.jpg", (1, 1)), ("7140_c8_f0210983.JPG", (7140, 7))],
)
def test_real_names_parse(name: str, expected: tuple[int, int]) -> None:
    assert parse_dukemtmc_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "001_c2_f0046182.jpg",  # pid not 4 digits
        "0001_c9_f0046182.jpg",  # Duke has 8 cameras
        "0001_c0_f0046182.jpg",
        "0001_c2_0046182.jpg",  # no f before the frame
        "0001_c2_f046182.jpg",  # frame not 7 digits
        "0002_c1s1_000451_03.jpg",  # a Market-1501 name
        "0001_c2_f0046182.txt",
        "",
    ],
)
def test_invalid_names_raise(name: str) -> None:
    with pytest.raises(DatasetLayoutError, match=r"PPPP_cC_fFFFFFFF\.jpg"):
        parse_dukemtmc_name(name)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"pid": -1, "camid": 0}, "pid"), ({"pid": 1, "camid": 8}, "camid"),
     ({"pid": 1, "camid": 0, "frame": 10**7}, "frame")],
)  # fmt: skip
def test_format_rejects_fields_out_of_range(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        format_dukemtmc_name(**kwargs)


def test_load_relabels_train_and_keeps_test_pids(tree: Path) -> None:
    splits = DukeMTMCReID(tree).load()
    assert splits.name == "DukeMTMCReID"
    # sorted by name: 0002, 0005 (c1), 0005 (c8), 7140; pids 2, 5, 7140 -> 0, 1, 2
    assert [(s.pid, s.camid) for s in splits.train] == [(0, 2), (1, 0), (1, 7), (2, 1)]
    assert [(s.pid, s.camid) for s in splits.query] == [(1, 1), (3, 6)]
    assert [(s.pid, s.camid) for s in splits.gallery] == [(1, 4), (3, 0), (3, 5), (9, 7)]
    assert splits.num_train_pids == 3
    assert all(s.path.parent.name == "bounding_box_test" for s in splits.gallery)


def test_root_may_be_the_dataset_folder_or_its_parent(tree: Path) -> None:
    assert DukeMTMCReID(tree.parent).load() == DukeMTMCReID(tree).load()


def test_non_image_files_are_ignored(tree: Path) -> None:
    before = DukeMTMCReID(tree).load()
    (tree / "bounding_box_train" / "Thumbs.db").write_bytes(b"\x00")
    (tree / "query" / "readme.txt").write_text("notes")
    (tree / "bounding_box_test" / "0001_c2_f0046182.jpg.md5").write_text("x")
    assert DukeMTMCReID(tree).load() == before


def test_counts_that_differ_from_the_published_ones_are_noted(tree: Path) -> None:
    splits = DukeMTMCReID(tree).load()
    assert len(splits.notes) == 3
    train_note, query_note, gallery_note = splits.notes
    assert train_note.startswith("train has 3 ids / 4 images")
    assert "702 ids / 16,522 images" in train_note
    assert "702 ids / 2,228 images" in query_note
    assert "1,110 ids / 17,661 images" in gallery_note
    assert "note: gallery has 3 ids / 4 images" in splits.summary()


def test_a_complete_copy_has_no_count_note(tree: Path) -> None:
    class Complete(DukeMTMCReID):  # the tiny tree is "complete" against these counts
        published = PublishedCounts(SplitCounts(3, 4), SplitCounts(2, 2), SplitCounts(3, 4), "x")

    assert Complete(tree).load().notes == ()


@pytest.mark.parametrize("missing", ["bounding_box_train", "query", "bounding_box_test"])
def test_missing_split_folder_is_named(tree: Path, missing: str) -> None:
    for path in (tree / missing).iterdir():
        path.unlink()
    (tree / missing).rmdir()
    with pytest.raises(DatasetLayoutError, match=missing) as info:
        DukeMTMCReID(tree).load()
    assert "DukeMTMC-reID" in str(info.value)


def test_missing_root_names_the_path_and_the_source(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        DukeMTMCReID(tmp_path / "nowhere").load()
    assert "nowhere" in str(info.value)
    assert "Zheng et al." in str(info.value)


def test_folder_without_dataset_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="bounding_box_train/") as info:
        DukeMTMCReID(tmp_path).load()
    assert str(tmp_path) in str(info.value)
    assert "DukeMTMC-reID/" in str(info.value)


def test_empty_split_raises(tmp_path: Path) -> None:
    base = _make_tree(tmp_path, [e for e in TREE if e[0] != "query"])
    with pytest.raises(DatasetLayoutError, match="no image of a real person") as info:
        DukeMTMCReID(base).load()
    assert str(base / "query") in str(info.value)


def test_unparsable_file_name_is_named(tree: Path) -> None:
    (tree / "bounding_box_train" / "0001_c9_f0046182.jpg").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match=r"0001_c9_f0046182\.jpg") as info:
        DukeMTMCReID(tree).load()
    assert "bounding_box_train" in str(info.value)
