"""Where MOTChallenge sequences are found: the dataset folder or the folder holding it, and the
download's own train/ and test/ folders as a split (``split="folders"``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from siamreid.data.datasets.mot import MOTChallenge
from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import DatasetLayoutError


@pytest.fixture(scope="module")
def mot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic sequences: SYN-01, SYN-02 in train/, SYN-03, SYN-04 in test/."""
    return make_synthetic_mot(
        tmp_path_factory.mktemp("mot") / "MOT17", num_sequences=4, num_frames=40, num_people=3
    )


def test_the_folder_holding_the_dataset_is_accepted(mot_root: Path, tmp_path: Path) -> None:
    direct = MOTChallenge(mot_root, cache_dir=tmp_path / "a").load()
    parent = MOTChallenge(mot_root.parent, cache_dir=tmp_path / "b").load()
    assert [len(s) for s in (parent.train, parent.query, parent.gallery)] == [
        len(s) for s in (direct.train, direct.query, direct.gallery)
    ]
    assert parent.notes == direct.notes


def test_a_folder_holding_two_datasets_names_them(mot_root: Path, tmp_path: Path) -> None:
    shutil.copytree(mot_root, tmp_path / "MOT17")
    shutil.copytree(mot_root, tmp_path / "MOT20")
    with pytest.raises(DatasetLayoutError, match=r"several datasets \(MOT17/, MOT20/\)"):
        MOTChallenge(tmp_path).load()


def test_the_summary_says_which_split_was_used(mot_root: Path, tmp_path: Path) -> None:
    seeded = MOTChallenge(mot_root, cache_dir=tmp_path).load()
    assert any(
        "not by the download's train/ and test/ folders (options split: folders uses them)" in n
        for n in seeded.notes
    )
    folders = MOTChallenge(mot_root, split="folders", cache_dir=tmp_path).load()
    assert "train sequences: SYN-01, SYN-02" in folders.notes
    assert folders.notes[1].startswith("test sequences: SYN-03, SYN-04")
    assert "sequences split by the download's folders: train/ trains, val/ and test/ test" in (
        folders.notes
    )


def test_folders_without_a_tested_sequence_are_refused(mot_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "MOT17"
    shutil.copytree(mot_root, root)
    for gt in (root / "test").glob("*/gt"):
        shutil.rmtree(gt)  # as MOT17's own test/ ships
    with pytest.raises(DatasetLayoutError, match=r"split='folders' needs.*test: none"):
        MOTChallenge(root, split="folders").load()
