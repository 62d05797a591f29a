"""DataConfig: the single-dataset form, train/test lists of DatasetSource, and how recipes read
them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.data.config import DataConfig, DatasetSource
from siamreid.data.registry import DATASETS
from siamreid.errors import ConfigError
from siamreid.training.recipe import load_recipe, recipe_from_dict, save_recipe

CROSS_DOMAIN = """
data:
  train:
    - {dataset: market1501, root: data/market1501}
  test:
    - {dataset: market1501, root: data/market1501}
    - {dataset: dukemtmcreid, root: data/duke}
    - {dataset: msmt17, root: data/msmt17, name: MSMT17}
"""


def test_single_dataset_form_trains_and_tests_on_it() -> None:
    data = recipe_from_dict({"data": {"dataset": "folder", "root": "people", "seed": 3}}).data
    assert data.train is None
    assert data.test is None
    expected = DatasetSource("folder", "people", seed=3)
    assert data.source == expected
    assert data.train_sources == data.test_sources == (expected,)


def test_lists_of_datasets_parse_into_sources() -> None:
    data = recipe_from_dict(yaml.safe_load(CROSS_DOMAIN)).data
    assert data.train_sources == (DatasetSource("market1501", "data/market1501"),)
    assert data.test is not None
    assert [s.label for s in data.test_sources] == ["market1501", "dukemtmcreid", "MSMT17"]
    assert data.test[1] == DatasetSource("dukemtmcreid", "data/duke")


def test_tests_default_to_the_training_datasets() -> None:
    data = recipe_from_dict(
        {
            "data": {
                "train": [{"dataset": "synthetic", "root": "a"}, {"dataset": "folder", "root": "b"}]
            }
        }
    ).data
    assert data.test_sources == data.train_sources
    assert [s.dataset for s in data.train_sources] == ["synthetic", "folder"]


def test_a_recipe_with_lists_survives_a_round_trip(tmp_path: Path) -> None:
    recipe = recipe_from_dict(yaml.safe_load(CROSS_DOMAIN))
    save_recipe(recipe, tmp_path / "recipe.yaml")
    assert load_recipe(tmp_path / "recipe.yaml") == recipe
    override = load_recipe(tmp_path / "recipe.yaml", ["data.test=[{dataset: mot, root: x}]"])
    assert override.data.test_sources == (DatasetSource("mot", "x"),)


def test_a_bad_entry_is_named_by_its_place_in_the_recipe() -> None:
    data = yaml.safe_load(CROSS_DOMAIN)
    data["data"]["train"].append({"dataset": "dukemtmc", "root": "data/duke"})
    with pytest.raises(ConfigError, match=r"data\.train\[1\]\.dataset") as info:
        recipe_from_dict(data)
    assert "dukemtmcreid" in str(info.value)  # the valid names are listed
    assert "(did you mean 'dukemtmcreid'?)" in str(info.value)
    data["data"]["train"][1] = {"dataset": "dukemtmcreid", "rot": "data/duke"}
    with pytest.raises(ConfigError, match=r"'rot'.*data\.train\[1\].*Valid keys: dataset, root"):
        recipe_from_dict(data)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ((), "non-empty"),
        ([DatasetSource("market1501", "m")], "tuple"),
        (("market1501",), r"train\[0\] must be a DatasetSource"),
    ],
)
def test_malformed_lists_are_refused(train: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataConfig(train=train)  # type: ignore[arg-type]


def test_test_sets_need_distinct_labels() -> None:
    twice = (DatasetSource("synthetic", "a"), DatasetSource("synthetic", "b"))
    with pytest.raises(ConfigError, match=r"\['synthetic'\] more than once.*own `name`"):
        DataConfig(test=twice)
    named = (twice[0], DatasetSource("synthetic", "b", name="synthetic (seed 1)"))
    assert [s.label for s in DataConfig(test=named).test_sources] == [
        "synthetic",
        "synthetic (seed 1)",
    ]


def test_unknown_name_suggests_the_closest_and_lists_all() -> None:
    with pytest.raises(ConfigError, match=r"DatasetSource\.dataset is 'msmt'.*'msmt17'\?"):
        DatasetSource("msmt", "x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"DataConfig\.dataset.*Known datasets: market1501"):
        DataConfig(dataset="market")  # type: ignore[arg-type]


def test_synthetic_sizes_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"DatasetSource\.synthetic_train_ids"):
        DatasetSource("synthetic", "x", synthetic_train_ids=1)


def test_each_dataset_is_named_by_its_place_in_the_recipe() -> None:
    data = recipe_from_dict(yaml.safe_load(CROSS_DOMAIN)).data
    assert [where for where, _ in data.sources_by_place()] == [
        "data.train[0]",
        "data.test[0]",
        "data.test[1]",
        "data.test[2]",
    ]
    assert data.sources_by_place()[2][1].root == "data/duke"
    single = DataConfig(dataset="folder", root="people")
    assert single.sources_by_place() == (("data", single.source),)
    assert single.is_single
    assert not data.is_single


_sources = st.builds(
    DatasetSource,
    dataset=st.sampled_from(list(DATASETS)),
    root=st.text(min_size=1, max_size=12),
    name=st.text(max_size=8),
    seed=st.integers(0, 2**31 - 1),
)
_lists = st.one_of(st.none(), st.lists(_sources, min_size=1, max_size=4).map(tuple))


@settings(max_examples=80, deadline=None)
@given(train=_lists, test=_lists)
def test_any_data_section_reads_back_as_written(
    train: tuple[DatasetSource, ...] | None, test: tuple[DatasetSource, ...] | None
) -> None:
    labels = [s.label for s in (test or train or ())]
    if len(set(labels)) < len(labels):  # two test sets labelled alike cannot be told apart
        with pytest.raises(ConfigError, match="more than once"):
            DataConfig(train=train, test=test)
        return
    config = DataConfig(dataset="synthetic", root="x", train=train, test=test)
    data = yaml.safe_load(yaml.safe_dump({"data": _as_dict(config)}))
    assert recipe_from_dict(data).data == config


def _as_dict(config: DataConfig) -> dict[str, object]:
    from siamreid.training.recipe import Recipe

    return Recipe(data=config).to_dict()["data"]  # type: ignore[no-any-return]
