"""detect_dataset: the registered name a folder's layout says, from folder and file names only."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamreid._paths import write_manifest
from siamreid.data.datasets.cuhk03np import CUHK03NP_FOLDER
from siamreid.data.datasets.dukemtmc import DUKEMTMC_FOLDER, format_dukemtmc_name
from siamreid.data.datasets.market1501 import MARKET1501_FOLDER
from siamreid.data.datasets.published import SYNTHETIC_GENERATOR
from siamreid.data.registry import detect_dataset
from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import ConfigError, DatasetLayoutError


def _split_folders(folder: Path, name: str) -> Path:
    """Empty image files under the three split folders: probes read names, never pixels."""
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        (folder / split).mkdir(parents=True)
        (folder / split / name).touch()
    return folder


def test_a_synthetic_tree_is_synthetic_as_dataset_folder_or_parent(synthetic_root: Path) -> None:
    assert detect_dataset(synthetic_root) == "synthetic"
    assert detect_dataset(synthetic_root.parent) == "synthetic"


def test_an_unmarked_market_tree_is_market1501(tmp_path: Path) -> None:
    _split_folders(tmp_path / MARKET1501_FOLDER, "0002_c1s1_000451_03.jpg")
    assert detect_dataset(tmp_path) == "market1501"
    assert detect_dataset(tmp_path / MARKET1501_FOLDER) == "market1501"
    write_manifest(tmp_path / MARKET1501_FOLDER, by=SYNTHETIC_GENERATOR)
    assert detect_dataset(tmp_path) == "synthetic"


def test_duke_is_told_from_market_by_its_file_names(tmp_path: Path) -> None:
    _split_folders(tmp_path / DUKEMTMC_FOLDER, format_dukemtmc_name(1, 1, frame=46182))
    assert detect_dataset(tmp_path) == "dukemtmcreid"
    bare = _split_folders(tmp_path / "bare", format_dukemtmc_name(3, 0))
    assert detect_dataset(bare) == "dukemtmcreid"


def test_msmt17_needs_its_list_files(tmp_path: Path) -> None:
    release = tmp_path / "MSMT17_V1"
    (release / "train").mkdir(parents=True)
    (release / "test").mkdir()
    with pytest.raises(ConfigError, match="no known benchmark"):
        detect_dataset(tmp_path)
    (release / "list_train.txt").touch()
    assert detect_dataset(tmp_path) == "msmt17"


def test_cuhk03np_has_two_variants_to_choose_from(tmp_path: Path) -> None:
    for variant in ("labeled", "detected"):
        _split_folders(tmp_path / CUHK03NP_FOLDER / variant, "0001_c2_6.png")
    with pytest.raises(
        ConfigError, match=r"fits the layouts of cuhk03np_labeled and cuhk03np_detected; give"
    ):
        detect_dataset(tmp_path, where="--root", name_with="--dataset NAME")
    assert detect_dataset(tmp_path / CUHK03NP_FOLDER / "detected") == "cuhk03np_detected"


def test_mot_sequences_are_mot_also_from_the_parent(tmp_path: Path) -> None:
    root = make_synthetic_mot(tmp_path / "MOT17", num_sequences=2, num_frames=6, num_people=2)
    assert detect_dataset(root) == "mot"
    assert detect_dataset(tmp_path) == "mot"
    assert detect_dataset(root / "train") == "mot"


def test_folders_and_unknown_layouts_must_be_named(tmp_path: Path) -> None:
    (tmp_path / "people" / "alice").mkdir(parents=True)
    (tmp_path / "people" / "alice" / "1.jpg").touch()
    with pytest.raises(ConfigError) as info:
        detect_dataset(tmp_path / "people", where="--root", name_with="--dataset NAME")
    message = str(info.value)
    assert "is laid out as no known benchmark (market1501, dukemtmcreid" in message
    assert "give --dataset NAME (a folder of <person>/<image> files is 'folder')" in message
    with pytest.raises(DatasetLayoutError, match=r"nowhere.*does not exist"):
        detect_dataset(tmp_path / "nowhere")


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _split_folders(tmp_path / "data" / MARKET1501_FOLDER, "0002_c1s1_000451_03.jpg")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert detect_dataset("~/data") == "market1501"
