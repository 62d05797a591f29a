"""The identity-labelling rule of image folders: Market-1501 names first, then sub-folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.labels import identities
from siamreid.errors import DatasetLayoutError


def test_market_names_give_ids_and_cameras_and_junk_is_counted(tmp_path: Path) -> None:
    paths = [
        tmp_path / "0002_c1s1_000451_03.jpg",
        tmp_path / "-1_c2s1_000001_01.jpg",
        tmp_path / "0007_c6s2_000010_01.jpg",
    ]
    found = identities(paths, tmp_path)
    assert found.paths == [paths[0], paths[2]]
    assert (found.ids, found.camids, found.skipped, found.names) == ([2, 7], [0, 5], 1, None)


def test_numeric_folders_are_the_ids_and_mixed_sources_have_no_cameras(tmp_path: Path) -> None:
    paths = [tmp_path / "17" / "a.jpg", tmp_path / "0003_c1s1_000001_01.jpg"]
    found = identities(paths, tmp_path)
    assert found.ids == [17, 3]
    assert found.camids is None  # one image has no camera
    assert found.names is None


@given(st.lists(st.text("abcxyz", min_size=1, max_size=4), min_size=1, max_size=6, unique=True))
def test_named_folders_are_numbered_in_sorted_order(names: list[str]) -> None:
    root = Path("/people")
    found = identities([root / name / "1.jpg" for name in names], root)
    table = {name: i for i, name in enumerate(sorted(names))}
    assert found.ids == [table[name] for name in names]
    assert found.names == {i: name for name, i in table.items()}


def test_names_of_an_existing_index_are_looked_up_and_strangers_get_minus_one(
    tmp_path: Path,
) -> None:
    paths = [tmp_path / "bob" / "1.jpg", tmp_path / "zoe" / "2.jpg"]
    found = identities(paths, tmp_path, names={4: "bob"})
    assert found.ids == [4, -1]


def test_an_image_with_no_identity_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"Cannot tell whose image .*loose\.jpg"):
        identities([tmp_path / "loose.jpg"], tmp_path)
