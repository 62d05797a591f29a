"""MOTOptions: the MOTChallenge settings a recipe's ``data.options`` gives, typed and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siamreid.data import DataConfig, DatasetSource, MOTOptions, load_splits
from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import ConfigError
from siamreid.training.recipe import load_recipe


def test_a_mapping_becomes_typed_options() -> None:
    options = MOTOptions.from_mapping(
        {"frame_step": 2, "classes": [1, 7], "test_sequences": ["MOT17-09"], "split": "seeded"}
    )
    assert options == MOTOptions(frame_step=2, classes=(1, 7), test_sequences=("MOT17-09",))


def test_unknown_keys_are_listed_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        MOTOptions.from_mapping({"frame_stp": 2}, "data.options")
    assert str(info.value) == (
        "Unknown MOTChallenge option(s) ['frame_stp'] in data.options. Valid options: classes, "
        "min_visibility, min_height, frame_step, test_sequences, test_fraction, query_window, "
        "min_gap, split."
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"frame_step": "5"}, "frame_step"),
        ({"frame_step": True}, "frame_step"),
        ({"min_height": 2.5}, "min_height"),
        ({"min_visibility": "high"}, "min_visibility"),
        ({"classes": [1, "x"]}, "classes"),
        ({"test_sequences": "MOT17-09"}, "test_sequences"),
        ({"split": "folder"}, "split"),
        ({"split": "folders", "test_sequences": ["A"]}, "not both"),
    ],
)
def test_wrong_values_are_named(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        MOTOptions.from_mapping(options)


def test_sources_check_their_options_against_the_adapter(tmp_path: Path) -> None:
    assert DatasetSource("mot", "x", options={"frame_step": 2}).options == {"frame_step": 2}
    with pytest.raises(ConfigError, match=r"DatasetSource\.options.*Valid options: classes"):
        DatasetSource("mot", "x", options={"window": 2})
    with pytest.raises(ConfigError, match=r"DataConfig\.options .* takes no options"):
        DataConfig(dataset="market1501", root="x", options={"frame_step": 2})
    with pytest.raises(ConfigError, match=r"DataConfig\.options must be a mapping"):
        DataConfig(dataset="mot", root="x", options=5)  # type: ignore[arg-type]


def test_a_recipe_reaches_the_adapter_and_expands_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_synthetic_mot(tmp_path / "data" / "MOT17", num_sequences=4, num_frames=40, num_people=3)
    monkeypatch.setenv("HOME", str(tmp_path))
    recipe = load_recipe(
        None, ["data.dataset=mot", "data.root=~/data", "data.options.split=folders"]
    )  # ~/data holds MOT17/: the parent of the dataset folder is accepted too
    assert recipe.data.options == {"split": "folders"}
    assert recipe.data.source.path == tmp_path / "data"
    splits = load_splits(recipe.data)
    assert splits.notes[0] == "train sequences: SYN-01, SYN-02"
    with pytest.raises(ConfigError, match=r"Unknown MOTChallenge option\(s\) \['step'\]"):
        load_recipe(None, ["data.dataset=mot", "data.options.step=3"])
