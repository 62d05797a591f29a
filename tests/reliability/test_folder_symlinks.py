"""Folder adapters never count one file twice, whatever links a user's data folder holds."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from PIL import Image

from siamreid.cli._common import list_images
from siamreid.data import ImageFolderReid
from siamreid.data.images import image_paths
from siamreid.errors import DatasetLayoutError


def _people(root: Path, identities: int = 4, images: int = 3) -> None:
    """``root/person<i>/c<cam>_<n>.png``: two cameras per identity."""
    for i in range(identities):
        folder = root / f"person{i}"
        folder.mkdir(parents=True)
        for n in range(images):
            Image.new("RGB", (16, 32), (40 * i, 10 * n, 0)).save(folder / f"c{n % 2}_{n}.png")


def _linked_tree(tmp_path: Path) -> Path:
    root = tmp_path / "people"
    _people(root)
    os.symlink(root, root / "person1" / "loop")  # a link to the root, inside an identity
    os.symlink(root, root / "zz_everyone")  # the root again, as an identity of its own
    os.symlink(root / "person2", root / "person2_again")  # another identity's folder
    # a file link into another identity's folder, sorting before that identity
    os.symlink(root / "person3" / "c0_0.png", root / "person0" / "c1_9.png")
    return root


def _counted(splits: object) -> list[Path]:
    return [s.path for part in ("train", "query", "gallery") for s in getattr(splits, part)]


def test_no_image_is_counted_twice(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _linked_tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger="siamreid.data.datasets.folder"):
        splits = ImageFolderReid(root, train_fraction=0.5, seed=0).load()
    paths = _counted(splits)
    assert len(paths) == 12  # 4 identities x 3 images, each once
    assert len({p.resolve() for p in paths}) == len(paths)
    identities = {p.relative_to(root).parts[0] for p in paths}
    assert identities == {"person0", "person1", "person2", "person3"}
    # the real file stays with its own identity; the link in person0 is what is left out
    assert root / "person3" / "c0_0.png" in paths
    assert root / "person0" / "c1_9.png" not in paths
    note = splits.notes[-1]
    assert "3 linked folder(s) not followed" in note
    assert "1 link(s) to an image already counted left out" in note
    assert note in caplog.text


def test_file_links_to_images_outside_the_root_still_count(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _people(store)
    root = tmp_path / "people"
    for person in sorted(store.iterdir()):
        (root / person.name).mkdir(parents=True)
        for image in sorted(person.iterdir()):
            os.symlink(image, root / person.name / image.name)
    splits = ImageFolderReid(root, seed=0).load()
    assert len(_counted(splits)) == 12
    assert not any("left out" in note for note in splits.notes)


def test_image_paths_skips_linked_folders_and_duplicate_files(tmp_path: Path) -> None:
    root = _linked_tree(tmp_path)
    os.link(root / "person1" / "c0_0.png", root / "person1" / "hard.png")
    found = image_paths(root)
    assert len(found) == 12
    assert len({(p.stat().st_dev, p.stat().st_ino) for p in found}) == 12


def test_too_few_identities_after_links_says_why(tmp_path: Path) -> None:
    root = tmp_path / "people"
    _people(root, identities=1)
    os.symlink(root / "person0", root / "person0_copy")
    with pytest.raises(
        DatasetLayoutError, match=r"1 identity folder.*1 linked folder\(s\) not followed"
    ):
        ImageFolderReid(root).load()


def test_cli_image_listing_counts_a_linked_image_once(tmp_path: Path) -> None:
    root = _linked_tree(tmp_path)
    assert len(list_images(root, "gallery")) == 12
