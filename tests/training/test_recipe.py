"""Recipes: the shipped YAML files load, unknown keys are refused, overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamreid.errors import ConfigError
from siamreid.training.recipe import Recipe, load_recipe, recipe_from_dict, save_recipe

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_strong_baseline_recipe_loads_as_specified() -> None:
    recipe = load_recipe(CONFIGS / "market1501_efficientnet_b0.yaml")
    assert recipe.model.backbone == "efficientnet_b0"
    assert recipe.model.input_size == (256, 128)
    sampling = recipe.trainer.sampling
    assert (sampling.kind, sampling.p, sampling.k, recipe.trainer.epochs) == ("pk", 16, 4, 120)
    assert recipe.trainer.schedule.milestones == (40, 70)
    assert recipe.trainer.runtime.precision == "bf16"
    kinds = {t.kind: t for t in recipe.trainer.losses}
    assert kinds["triplet"].margin == 0.3
    assert kinds["triplet"].miner == "batch_hard"
    assert kinds["triplet"].distance == "euclidean"
    assert kinds["id"].label_smoothing == 0.1
    assert recipe.trainer.augment is not None
    assert recipe.trainer.augment.random_erasing_prob > 0


def test_seed_recipe_uses_triplet_dataset() -> None:
    recipe = load_recipe(CONFIGS / "seed_siamese_triplet.yaml")
    assert recipe.trainer.sampling.kind == "triplet"
    assert [t.kind for t in recipe.trainer.losses] == ["triplet"]


def test_overrides_are_parsed_as_yaml() -> None:
    recipe = load_recipe(
        CONFIGS / "market1501_efficientnet_b0.yaml",
        [
            "trainer.epochs=3",
            "model.backbone=resnet18",
            "trainer.schedule.milestones=[1, 2]",
            "trainer.optim.lr=1e-3",
        ],
    )
    assert recipe.trainer.epochs == 3
    assert recipe.model.backbone == "resnet18"
    assert recipe.trainer.schedule.milestones == (1, 2)
    assert recipe.trainer.optim.lr == 1e-3
    assert recipe.trainer.schedule.gamma == 0.1  # the rest of the group keeps the file's values


def test_flat_keys_of_the_earlier_layout_name_their_new_place() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.lr -> trainer\.optim\.lr"):
        load_recipe(None, ["trainer.lr=1e-3"])
    with pytest.raises(ConfigError) as err:
        recipe_from_dict({"trainer": {"p": 8, "scheduler": "cosine", "out_dir": "x"}})
    message = str(err.value)
    for moved in (
        "trainer.p -> trainer.sampling.p",
        "trainer.scheduler -> trainer.schedule.kind",
        "trainer.out_dir -> trainer.output.out_dir",
    ):
        assert moved in message


def test_unknown_key_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown key.*'epoch'.*Valid keys: epochs"):
        recipe_from_dict({"trainer": {"epoch": 3}})
    with pytest.raises(ConfigError, match="Unknown key"):
        load_recipe(None, ["trainer.lossess=[]"])


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"OptimConfig\.lr"):
        load_recipe(None, ["trainer.optim.lr=-1"])
    with pytest.raises(ConfigError, match=r"trainer\.optim\.kind is 'adamm'.*did you mean 'adam'"):
        load_recipe(None, ["trainer.optim.kind=adamm"])
    with pytest.raises(ConfigError, match=r"section\.field=value"):
        load_recipe(None, ["trainer.epochs"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe("no/such/recipe.yaml")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    recipe = load_recipe(CONFIGS / "market1501_efficientnet_b0.yaml", ["trainer.epochs=7"])
    save_recipe(recipe, tmp_path / f"recipe{suffix}")
    assert load_recipe(tmp_path / f"recipe{suffix}") == recipe
    assert Recipe() == recipe_from_dict({})


@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        ("trainer:\n  epochs: 3\n  epochs: 30\n", "epochs", 3, 2),
        (
            "model:\n  backbone: resnet50\ntrainer:\n  epochs: 3\nmodel:\n  pretrained: false\n",
            "model",
            5,
            1,
        ),
    ],
)
def test_a_yaml_key_given_twice_is_one_error_naming_it_and_its_lines(
    tmp_path: Path, text: str, key: str, line: int, first: int
) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert str(info.value).startswith(
        f"Recipe file {str(path)!r}, line {line}: key {key!r} is given twice (first on line "
        f"{first})"
    )


def test_a_json_key_given_twice_is_one_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "recipe.json"
    path.write_text('{"trainer": {"epochs": 3, "epochs": 30}}')
    with pytest.raises(ConfigError, match="key 'epochs' is given twice"):
        load_recipe(path)


def test_every_loss_kind_is_a_recipe_term(tmp_path: Path) -> None:
    losses = [
        {"kind": "circle"},
        {"kind": "arcface", "margin": 0.4, "scale": 30},
        {"kind": "cosface"},
        {"kind": "center", "weight": 0.0005, "center_lr": 0.5},
    ]
    recipe = recipe_from_dict({"trainer": {"losses": losses}})
    terms = recipe.trainer.losses
    assert [t.kind for t in terms] == ["circle", "arcface", "cosface", "center"]
    assert (terms[1].margin, terms[1].scale, terms[2].margin) == (0.4, 30.0, 0.35)
    save_recipe(recipe, tmp_path / "recipe.yaml")
    assert load_recipe(tmp_path / "recipe.yaml") == recipe
