"""CUHK03-NP adapter: filename round-trip, the two variants, relabelling, layout errors, notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.datasets.cuhk03np import CUHK03NP, format_cuhk03np_name, parse_cuhk03np_name
from siamreid.errors import ConfigError, DatasetLayoutError

# (folder, pid, 1-based camera) of a hand-made variant; names are built without the formatter.
TREE = [
    ("bounding_box_train", 3, 1),
    ("bounding_box_train", 3, 2),
    ("bounding_box_train", 1, 2),
    ("query", 2, 1),
    ("query", 4, 2),
    ("bounding_box_test", 2, 2),
    ("bounding_box_test", 4, 1),
]
SPLITS = ("bounding_box_train", "query", "bounding_box_test")


def _make_variant(base: Path, entries: list[tuple[str, int, int]] = TREE) -> Path:
    for folder in SPLITS:
        (base / folder).mkdir(parents=True, exist_ok=True)
    for index, (folder, pid, cam) in enumerate(entries, start=1):
        (base / folder / (str(pid).zfill(4) + "_c" + str(cam) + "_" + str(index) + ".png")).touch()
    return base


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``cuhk03-np/`` with both variants; ``detected`` has one more train image of person 1."""
    root = tmp_path / "cuhk03-np"
    _make_variant(root / "labeled")
    _make_variant(root / "detected", [*TREE, ("bounding_box_train", 1, 1)])
    return root


@given(pid=st.integers(0, 9999), camid=st.integers(0, 1), index=st.integers(0, 10**6))
def test_every_valid_name_round_trips(pid: int, camid: int, index: int) -> None:
    name = format_cuhk03np_name(pid, camid, index=index)
    assert parse_cuhk03np_name(name) == (pid, camid)
    assert name.removesuffix(".png").split("_") == [f"{pid:04d}", f"c{camid + 1}", str(index)]


@pytest.mark.parametrize(
    ("name", "expected"), [("0001_c1_1.png", (1, 0)), ("1467_c2_10.PNG", (1467, 1))]
)
def test_real_names_parse(name: str, expected: tuple[int, int]) -> None:
    assert parse_cuhk03np_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["001_c1_1.png", "0001_c3_1.png", "0001_c0_1.png", "0001_c1.png", "0001_c1_x.png", "",
     "0002_c1s1_000451_03.jpg"],
)  # fmt: skip
def test_invalid_names_raise(name: str) -> None:
    with pytest.raises(DatasetLayoutError, match=r"PPPP_cC_N\.png"):
        parse_cuhk03np_name(name)


def test_format_rejects_a_third_camera() -> None:
    with pytest.raises(ValueError, match="camid"):
        format_cuhk03np_name(1, 2)


@pytest.mark.parametrize("variant", ["labeled", "detected"])
def test_each_variant_reads_its_own_folder(tree: Path, variant: str) -> None:
    splits = CUHK03NP(tree, variant=variant).load()  # type: ignore[arg-type]
    assert splits.name == f"CUHK03NP-{variant}"
    assert {s.path.parent.parent.name for s in splits.train} == {variant}
    # pids 1, 3 -> 0, 1 (sorted by name: 0001 first); cameras 0-based
    expected_train = [(0, 1), (1, 0), (1, 1)]
    if variant == "detected":
        expected_train = [(0, 0), (0, 1), (1, 0), (1, 1)]  # 0001_c1_8.png sorts first
    assert [(s.pid, s.camid) for s in splits.train] == expected_train
    assert [(s.pid, s.camid) for s in splits.query] == [(2, 0), (4, 1)]
    assert [(s.pid, s.camid) for s in splits.gallery] == [(2, 1), (4, 0)]


def test_default_variant_is_labeled(tree: Path) -> None:
    assert CUHK03NP(tree).load() == CUHK03NP(tree, variant="labeled").load()


def test_root_may_be_the_dataset_folder_or_its_parent(tree: Path) -> None:
    assert CUHK03NP(tree.parent).load() == CUHK03NP(tree).load()


def test_a_bare_variant_folder_is_not_taken_for_the_other_variant(tree: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="labeled/") as info:
        CUHK03NP(tree / "detected", variant="labeled").load()
    assert str(tree / "detected") in str(info.value)


def test_bad_variant_names_the_choices(tree: Path) -> None:
    with pytest.raises(ConfigError, match="'labelled'") as info:
        CUHK03NP(tree, variant="labelled")  # type: ignore[arg-type]
    assert "'labeled'" in str(info.value)
    assert "'detected'" in str(info.value)


def test_published_counts_follow_the_variant() -> None:
    assert CUHK03NP("x", variant="labeled").published.train.images == 7_368
    assert CUHK03NP("x", variant="detected").published.train.images == 7_365
    assert CUHK03NP("x", variant="detected").published.gallery.images == 5_332


def test_counts_that_differ_from_the_published_ones_are_noted(tree: Path) -> None:
    notes = CUHK03NP(tree, variant="detected").load().notes
    assert len(notes) == 3
    assert notes[0].startswith("train has 2 ids / 4 images")
    assert "767 ids / 7,365 images" in notes[0]
    assert "CUHK03-NP detected" in notes[0]
    assert "700 ids / 5,332 images" in notes[2]


def test_non_image_files_are_ignored(tree: Path) -> None:
    before = CUHK03NP(tree).load()
    (tree / "labeled" / "query" / "desktop.ini").write_text("x")
    (tree / "labeled" / "bounding_box_test" / "list.txt").write_text("x")
    assert CUHK03NP(tree).load() == before


@pytest.mark.parametrize("missing", SPLITS)
def test_missing_split_folder_is_named(tree: Path, missing: str) -> None:
    folder = tree / "labeled" / missing
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    with pytest.raises(DatasetLayoutError, match=missing) as info:
        CUHK03NP(tree).load()
    assert "CUHK03-NP (labeled)" in str(info.value)


def test_missing_variant_says_what_was_expected(tmp_path: Path) -> None:
    _make_variant(tmp_path / "cuhk03-np" / "labeled")
    with pytest.raises(DatasetLayoutError, match=r"cuhk03-np/detected/") as info:
        CUHK03NP(tmp_path, variant="detected").load()
    assert str(tmp_path) in str(info.value)
    assert "Zhong et al." in str(info.value)


def test_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        CUHK03NP(tmp_path / "nowhere").load()
    assert "nowhere" in str(info.value)


def test_empty_split_raises(tmp_path: Path) -> None:
    _make_variant(tmp_path / "labeled", [e for e in TREE if e[0] != "bounding_box_test"])
    with pytest.raises(DatasetLayoutError, match="no image of a real person") as info:
        CUHK03NP(tmp_path).load()
    assert str(tmp_path / "labeled" / "bounding_box_test") in str(info.value)


def test_unparsable_file_name_is_named(tree: Path) -> None:
    (tree / "labeled" / "query" / "0001_c3_1.png").touch()
    with pytest.raises(DatasetLayoutError, match=r"0001_c3_1\.png") as info:
        CUHK03NP(tree).load()
    assert "query" in str(info.value)
