"""The dataset registry: its names, its errors, and what each name loads."""

from __future__ import annotations

import ast
import shutil
import typing
from pathlib import Path

import pytest

import siamreid
import siamreid.data
from siamreid.data import config as config_module
from siamreid.data import registry as registry_module
from siamreid.data.config import DataConfig, DatasetSource
from siamreid.data.datasets.folder import ImageFolderReid
from siamreid.data.datasets.published import PublishedCounts
from siamreid.data.loading import load_splits, load_train_test
from siamreid.data.registry import DATASETS, DatasetName, check_dataset_name, load_source
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError

NAMES = (
    "market1501",
    "dukemtmcreid",
    "msmt17",
    "cuhk03np_labeled",
    "cuhk03np_detected",
    "mot",
    "folder",
    "synthetic",
)
BENCHMARKS = ("market1501", "dukemtmcreid", "msmt17", "cuhk03np_labeled", "cuhk03np_detected")


def test_the_registry_holds_every_dataset_once() -> None:
    assert tuple(DATASETS) == NAMES
    assert typing.get_args(DatasetName) == NAMES  # the type recipes check is the same list
    with pytest.raises(TypeError):
        DATASETS["mine"] = DATASETS["folder"]  # type: ignore[index]


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        check_dataset_name("dukemtmc", where="--data")
    message = str(info.value)
    assert message.startswith("--data is 'dukemtmc'")
    assert "Did you mean 'dukemtmcreid'?" in message
    assert f"Known datasets: {', '.join(NAMES)}." in message
    with pytest.raises(ConfigError, match="Known datasets") as far:
        check_dataset_name("imagenet")
    assert "Did you mean" not in str(far.value)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_knows_its_published_counts(name: str) -> None:
    published = DATASETS[name].published()
    assert isinstance(published, PublishedCounts)
    assert published.train.images > published.train.ids > 0


@pytest.mark.parametrize("name", ["mot", "folder", "synthetic"])
def test_other_datasets_have_no_published_counts(name: str) -> None:
    assert DATASETS[name].published() is None


@pytest.mark.parametrize("name", [n for n in NAMES if n != "synthetic"])
def test_each_name_reaches_its_adapter(name: str, tmp_path: Path) -> None:
    # the adapter itself (not an import error or a wrong call) refuses a missing folder
    missing = tmp_path / "no-such-dataset"
    with pytest.raises(DatasetLayoutError, match="no-such-dataset"):
        DATASETS[name].load(DatasetSource(name, str(missing)))  # type: ignore[arg-type]


def test_market1501_and_synthetic_read_the_same_files(
    synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    market = load_splits(DataConfig(dataset="market1501", root=str(synthetic_root)))
    assert market == synthetic_splits
    # the generator marks its folders: read as market1501, its small size is no incomplete download
    assert market.notes == ()
    # an existing synthetic copy is read, not written again; its size is not an anomaly
    synthetic = load_splits(DataConfig(dataset="synthetic", root=str(synthetic_root.parent)))
    assert synthetic.name == "Synthetic Market-1501"
    assert synthetic.notes == ()
    assert (synthetic.train, synthetic.query, synthetic.gallery) == (
        market.train,
        market.query,
        market.gallery,
    )


def test_synthetic_is_generated_when_absent(tmp_path: Path) -> None:
    source = DatasetSource("synthetic", str(tmp_path), synthetic_train_ids=3, synthetic_test_ids=3)
    splits = load_source(source)
    assert splits.num_train_pids == 3
    assert (tmp_path / "Market-1501-v15.09.15" / "bounding_box_train").is_dir()


def test_folder_reads_with_the_source_options(synthetic_root: Path, tmp_path: Path) -> None:
    for path in sorted((synthetic_root / "bounding_box_train").glob("*.jpg"))[:60]:
        person = tmp_path / f"p{path.name[:4]}"
        person.mkdir(exist_ok=True)
        shutil.copy(path, person / path.name)
    source = DatasetSource("folder", str(tmp_path), camera_pattern=r"_c(\d)s", seed=4)
    expected = ImageFolderReid(tmp_path, camera_pattern=r"_c(\d)s", seed=4).load()
    assert load_source(source) == expected
    assert load_splits(source) == expected


def test_one_dataset_trains_and_tests_on_itself(synthetic_root: Path) -> None:
    data = load_train_test(DataConfig(dataset="market1501", root=str(synthetic_root)))
    assert list(data.tests) == ["market1501"]
    assert data.tests["market1501"] is data.train  # read once


def test_several_datasets_train_together_and_test_apart(
    synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    market = DatasetSource("market1501", str(synthetic_root))
    copy = DatasetSource("synthetic", str(synthetic_root.parent), name="copy")
    data = load_train_test(DataConfig(train=(market, copy), test=(copy, market)))
    assert data.train.name == "market1501 + copy"
    assert data.train.num_train_pids == 2 * synthetic_splits.num_train_pids
    assert list(data.tests) == ["copy", "market1501"]
    assert data.tests["market1501"] == synthetic_splits  # test sets keep their own ids
    assert data.tests["copy"].name == "copy"  # so that its summary says which one it is
    assert load_splits(DataConfig(train=(market, copy))).train == data.train.train


@pytest.mark.parametrize("module", [config_module, registry_module])
def test_naming_a_dataset_imports_no_adapter(module: object) -> None:
    # DataConfig validates names without reading the adapters, which import their parsers
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text())
    imported = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    adapters = {"market1501", "dukemtmc", "msmt17", "cuhk03np", "mot", "folder", "synthetic"}
    assert not {m for m in imported if m.rsplit(".", 1)[-1] in adapters}


def test_load_splits_is_importable_from_the_public_paths() -> None:
    # siamreid.data.config.load_splits moved to siamreid.data.loading (issue 21: the config
    # module must not import the loader that imports it); the documented paths are these
    assert siamreid.load_splits is siamreid.data.load_splits is load_splits
