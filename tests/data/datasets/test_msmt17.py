"""MSMT17 adapter: both releases, list files, train + val, cameras, layout errors, count notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.datasets.msmt17 import MSMT17, format_msmt17_name, parse_msmt17_name
from siamreid.errors import DatasetLayoutError

RELEASES = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
# list name -> (label, 1-based camera) of each line; names are built without the formatter.
LISTS = {
    "list_train.txt": [(0, 1), (0, 15), (7, 3)],
    "list_val.txt": [(3, 2), (7, 4)],  # val labels are train labels: one space with train
    "list_query.txt": [(0, 5), (2, 9)],
    "list_gallery.txt": [(0, 6), (2, 10), (5, 11)],
}


def _line(label: int, cam: int, index: int) -> str:
    pid = str(label).zfill(4)
    name = pid + "_" + str(index).zfill(3) + "_" + str(cam).zfill(2) + "_0303morning_0015_0.jpg"
    return pid + "/" + name + " " + str(label)


def _make_release(base: Path, release: str = "MSMT17_V1") -> Path:
    """A release folder with its image folders, lists, and one unlisted image per folder."""
    folder = base / release
    train_dir, test_dir = (folder / name for name in RELEASES[release])
    for list_name, entries in LISTS.items():
        image_dir = train_dir if list_name in ("list_train.txt", "list_val.txt") else test_dir
        index = 0 if list_name != "list_val.txt" else 50
        lines = [_line(label, cam, index + i) for i, (label, cam) in enumerate(entries)]
        for line in lines:
            path = image_dir / line.split(" ")[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()  # the adapter never decodes
        (folder / list_name).write_text("\n".join(lines) + "\n")
    for image_dir in (train_dir, test_dir):  # on disk, in no list: not used
        (image_dir / "0009").mkdir()
        (image_dir / "0009" / "0009_000_01_0303noon_0001_0.jpg").touch()
    return folder


@pytest.fixture(params=list(RELEASES))
def release(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return _make_release(tmp_path / "msmt17", request.param)


@given(
    pid=st.integers(0, 9999),
    camid=st.integers(0, 14),
    index=st.integers(0, 9999),
    day=st.from_regex(r"[01][0-9][0-3][0-9](morning|noon|afternoon)", fullmatch=True),
    frame=st.integers(0, 99_999),
    box=st.integers(0, 9),
)
def test_every_valid_name_round_trips(
    pid: int, camid: int, index: int, day: str, frame: int, box: int
) -> None:
    name = format_msmt17_name(pid, camid, index=index, day=day, frame=frame, box=box)
    assert parse_msmt17_name(name) == (pid, camid)
    fields = name.removesuffix(".jpg").split("_")
    assert [int(fields[0]), int(fields[1]), int(fields[2])] == [pid, index, camid + 1]
    assert fields[3:] == [day, f"{frame:04d}", str(box)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("0000_000_01_0303morning_0015_0.jpg", (0, 0)),
        ("1040_021_15_0113afternoon_1012_1.jpg", (1040, 14)),
        ("3059_003_07_0302noon_0440_2.jpg", (3059, 6)),
    ],
)
def test_real_names_parse(name: str, expected: tuple[int, int]) -> None:
    assert parse_msmt17_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "0000_000_00_0303morning_0015_0.jpg",  # camera 00
        "0000_000_16_0303morning_0015_0.jpg",  # camera 16 of 15
        "0000_000_1_0303morning_0015_0.jpg",  # camera not 2 digits
        "0000_000_01_0015_0.jpg",  # a field short
        "000_000_01_0303morning_0015_0.jpg",
        "0000_000_01_0303morning_0015_0.txt",
        "0001_c2_f0046182.jpg",  # a DukeMTMC-reID name
        "",
    ],
)
def test_invalid_names_raise(name: str) -> None:
    with pytest.raises(DatasetLayoutError, match=r"camera CC from 01 to 15"):
        parse_msmt17_name(name)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"pid": 10_000, "camid": 0}, "pid"), ({"pid": 0, "camid": 15}, "camid"),
     ({"pid": 0, "camid": 0, "day": "03_03"}, "day")],
)  # fmt: skip
def test_format_rejects_fields_out_of_range(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        format_msmt17_name(**kwargs)  # type: ignore[arg-type]


def test_train_is_train_plus_val_relabelled_and_cameras_come_from_names(release: Path) -> None:
    splits = MSMT17(release).load()
    assert splits.name == "MSMT17"
    # list_train then list_val: labels 0, 3, 7 -> 0, 1, 2
    assert [(s.pid, s.camid) for s in splits.train] == [(0, 0), (0, 14), (2, 2), (1, 1), (2, 3)]
    assert [(s.pid, s.camid) for s in splits.query] == [(0, 4), (2, 8)]
    assert [(s.pid, s.camid) for s in splits.gallery] == [(0, 5), (2, 9), (5, 10)]
    train_dir, test_dir = RELEASES[release.name]
    assert {s.path.parent.parent for s in splits.train} == {release / train_dir}
    assert {s.path.parent.parent for s in [*splits.query, *splits.gallery]} == {release / test_dir}


def test_files_in_no_list_are_not_used(release: Path) -> None:
    splits = MSMT17(release).load()
    every = [*splits.train, *splits.query, *splits.gallery]
    assert len(every) == sum(len(entries) for entries in LISTS.values())
    assert not any(s.path.name.startswith("0009_") for s in every)


def test_root_may_be_the_release_folder_or_its_parent(release: Path) -> None:
    from_parent = MSMT17(release.parent).load()
    assert from_parent == MSMT17(release).load()
    assert from_parent.train[0].path.is_file()


def test_with_both_releases_v1_is_read_and_the_summary_says_so(tmp_path: Path) -> None:
    v1 = _make_release(tmp_path, "MSMT17_V1")
    v2 = _make_release(tmp_path, "MSMT17_V2")
    splits = MSMT17(tmp_path).load()
    assert splits.train[0].path.is_relative_to(v1)
    assert "MSMT17_V1 read; MSMT17_V2 also found" in splits.notes[0]
    assert MSMT17(v2).load().train[0].path.is_relative_to(v2)
    assert not any("also found" in note for note in MSMT17(v2).load().notes)


def test_counts_that_differ_from_the_published_ones_are_noted(release: Path) -> None:
    notes = MSMT17(release).load().notes
    assert [note.split(" has ")[0] for note in notes] == ["train", "query", "gallery"]
    assert notes[0].startswith("train has 3 ids / 5 images")
    assert "1,041 ids / 32,621 images" in notes[0]
    assert "3,060 ids / 82,161 images" in notes[2]


@pytest.mark.parametrize("list_name", list(LISTS))
def test_missing_list_file_is_named(release: Path, list_name: str) -> None:
    (release / list_name).unlink()
    with pytest.raises(DatasetLayoutError, match=list_name) as info:
        MSMT17(release).load()
    assert str(release) in str(info.value)
    assert "Wei et al." in str(info.value)


@pytest.mark.parametrize("list_name", list(LISTS))
def test_empty_list_raises(release: Path, list_name: str) -> None:
    (release / list_name).write_text("\n")
    with pytest.raises(DatasetLayoutError, match="lists no image") as info:
        MSMT17(release).load()
    assert str(release / list_name) in str(info.value)


@pytest.mark.parametrize(
    "line",
    [
        "0000/0000_000_01_0303morning_0015_0.jpg",
        "0000/x.jpg 0 extra",
        "a.jpg -1",
        "0000/0000_000_01_0303morning_0015_0.jpg \u0663",  # a digit, but not an ASCII one
    ],
)
def test_line_that_is_not_path_and_label_is_named(release: Path, line: str) -> None:
    with (release / "list_query.txt").open("a") as f:
        f.write(line + "\n")
    with pytest.raises(DatasetLayoutError, match="Line 3 of") as info:
        MSMT17(release).load()
    assert "list_query.txt" in str(info.value)
    assert "identity label" in str(info.value)


def test_unparsable_listed_name_is_named(release: Path) -> None:
    with (release / "list_gallery.txt").open("a") as f:
        f.write("0000/0000_000_16_0303morning_0015_0.jpg 0\n")
    with pytest.raises(DatasetLayoutError, match=r"0000_000_16_0303morning_0015_0\.jpg") as info:
        MSMT17(release).load()
    assert "Line 4 of" in str(info.value)
    assert "list_gallery.txt" in str(info.value)


def test_listed_images_missing_on_disk_are_named(release: Path) -> None:
    train_dir = release / RELEASES[release.name][0]
    removed = sorted(train_dir.glob("0000/*.jpg"))
    for path in removed:
        path.unlink()
    with pytest.raises(DatasetLayoutError, match="2 of the 3 images listed") as info:
        MSMT17(release).load()
    assert str(removed[0]) in str(info.value)
    assert "list_train.txt" in str(info.value)


@pytest.mark.parametrize("which", [0, 1])
def test_missing_image_folder_is_named(release: Path, which: int) -> None:
    folder = release / RELEASES[release.name][which]
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    with pytest.raises(DatasetLayoutError) as info:
        MSMT17(release).load()
    assert str(folder if which else release) in str(info.value)


def test_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        MSMT17(tmp_path / "nowhere").load()
    assert "nowhere" in str(info.value)


def test_folder_without_a_release_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"MSMT17_V1/\{train,test\}/") as info:
        MSMT17(tmp_path).load()
    assert "MSMT17_V2/{mask_train_v2,mask_test_v2}/" in str(info.value)
    assert "list_train.txt" in str(info.value)


@given(st.text(alphabet="0123456789\u0660\u0661\u0662", min_size=4, max_size=4))
def test_only_ascii_digits_make_a_pid(pid_text: str) -> None:
    # re's \d alone would also read ARABIC-INDIC digits as a pid
    name = pid_text + "_000_01_0303morning_0015_0.jpg"
    if pid_text.isascii():
        assert parse_msmt17_name(name) == (int(pid_text), 0)
    else:
        with pytest.raises(DatasetLayoutError):
            parse_msmt17_name(name)


@pytest.mark.parametrize("escape", ["../../../outside/0000_000_01_0303morning_0015_0.jpg", "abs"])
def test_a_list_entry_outside_the_release_is_refused_with_its_line(
    tmp_path: Path, escape: str
) -> None:
    folder = _make_release(tmp_path / "msmt17")
    outside = tmp_path / "outside" / "0000_000_01_0303morning_0015_0.jpg"
    outside.parent.mkdir()
    outside.touch()  # a real file (test/../../../outside): following the line would load it
    entry = str(outside) if escape == "abs" else escape
    lists = folder / "list_query.txt"
    lines = lists.read_text().splitlines()
    lists.write_text("\n".join([lines[0], f"{entry} 0", *lines[1:]]) + "\n")
    with pytest.raises(DatasetLayoutError) as info:
        MSMT17(folder).load()
    message = str(info.value)
    assert f"Line 2 of {str(lists)!r}" in message
    assert repr(entry) in message
    assert "must name a file inside" in message
    assert ("'..'" if escape != "abs" else "absolute path") in message
