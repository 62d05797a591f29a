"""Recipes are type-checked field by field, the way users write them: YAML files and overrides.

Every wrong value is refused with a :class:`ConfigError` that names ``section.field``, the value
and the expected type; ``lr: 1e-4`` (a string to PyYAML, which wants a dot in floats) is a float.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.data.transforms import TransformConfig
from siamreid.errors import ConfigError
from siamreid.losses import LossTermConfig
from siamreid.training.config import TrainerConfig
from siamreid.training.recipe import Recipe, load_recipe, recipe_from_dict

# (prefix in messages, path into the recipe data, config class)
SECTIONS: list[tuple[str, tuple[str | int, ...], type]] = [
    ("model", ("model",), typing.get_type_hints(Recipe)["model"]),
    ("data", ("data",), typing.get_type_hints(Recipe)["data"]),
    ("trainer", ("trainer",), typing.get_type_hints(Recipe)["trainer"]),
    ("trainer.losses[0]", ("trainer", "losses", 0), LossTermConfig),
    ("trainer.augment", ("trainer", "augment"), TransformConfig),
    *[
        (f"trainer.{group}", ("trainer", group), typing.get_type_hints(TrainerConfig)[group])
        for group in ("sampling", "optim", "schedule", "runtime", "output")
    ],
]


def _leaf_fields() -> list[tuple[str, tuple[str | int, ...], Any]]:
    """Every scalar field of every section: its dotted name, its path and its annotation."""
    out = []
    for prefix, path, cls in SECTIONS:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if _scalar_kinds(tp):
                out.append((f"{prefix}.{f.name}", (*path, f.name), tp))
    return out


def _scalar_kinds(tp: Any) -> set[str]:
    """The scalar kinds an annotation accepts (empty for containers and dataclasses)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        kinds: set[str] = set()
        for arg in typing.get_args(tp):
            if arg is type(None):
                kinds.add("null")
                continue
            inner = _scalar_kinds(arg)
            if not inner:
                return set()
            kinds |= inner
        return kinds
    if origin is Literal:
        return {"literal"}
    return {bool: {"bool"}, int: {"int"}, float: {"float"}, str: {"str"}}.get(tp, set())


LEAVES = _leaf_fields()

_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int": st.integers(),
    "float": st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    "str": st.text(alphabet="abcxyz", min_size=1, max_size=6).filter(
        lambda s: not _parses_as_float(s)
    ),
    "list": st.lists(st.integers(), max_size=2),
}


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _wrong_values(tp: Any) -> st.SearchStrategy[Any]:
    """Values that ``tp`` must refuse."""
    kinds = _scalar_kinds(tp)
    refused = {"list"}
    if "bool" not in kinds:
        refused.add("bool")
    if "int" not in kinds and "float" not in kinds:
        refused.add("int")
    if "float" not in kinds:
        refused.add("float")
    if "str" not in kinds and "float" not in kinds:
        refused.add("str")
    strategy = st.one_of(*(_WRONG[k] for k in sorted(refused)))
    if "literal" in kinds:
        choices = {a for a in typing.get_args(tp) if a is not type(None)}
        choices = {c for arg in choices for c in (typing.get_args(arg) or (arg,))}
        strategy = st.one_of(strategy, st.text(max_size=8).filter(lambda s: s not in choices))
    if "null" not in kinds:
        strategy = st.one_of(strategy, st.none())
    return strategy


def _nest(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(path):
        node = [node] if isinstance(part, int) else {part: node}
    assert isinstance(node, dict)
    return node


def test_every_section_has_checked_fields() -> None:
    names = {name for name, _, _ in LEAVES}
    for expected in (
        "model.backbone",
        "model.embedding_dim",
        "model.pretrained",
        "model.drop_path_rate",
        "data.root",
        "data.seed",
        "trainer.epochs",
        "trainer.output.progress",
        "trainer.optim.lr",
        "trainer.sampling.kind",
        "trainer.schedule.gamma",
        "trainer.runtime.precision",
        "trainer.losses[0].weight",
        "trainer.augment.flip_prob",
    ):
        assert expected in names


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_wrong_types_are_refused_naming_field_value_and_type(data: st.DataObject) -> None:
    name, path, tp = data.draw(st.sampled_from(LEAVES))
    value = data.draw(_wrong_values(tp))
    with pytest.raises(ConfigError) as info:
        recipe_from_dict(_nest(path, value))
    message = str(info.value)
    assert message.startswith(f"{name} is {value!r}; expected ")
    kinds = _scalar_kinds(tp)
    for kind, word in [
        ("bool", "true or false"),
        ("int", "integer"),
        ("float", "number"),
        ("str", "string"),
        ("literal", "one of"),
        ("null", "null"),
    ]:
        assert (word in message) == (kind in kinds) or (kind == "str" and "literal" in kinds)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e3))
def test_float_fields_take_strings_and_ints(lr: float) -> None:
    def optim(lr: object) -> float:
        return recipe_from_dict({"trainer": {"optim": {"lr": lr}}}).trainer.optim.lr

    assert optim(repr(lr)) == lr
    assert optim(f"{lr:e}") == float(f"{lr:e}")
    gamma = recipe_from_dict({"trainer": {"schedule": {"gamma": 1}}}).trainer.schedule.gamma
    assert gamma == 1.0
    assert type(gamma) is float


def test_yaml_exponent_without_a_dot_is_a_float(tmp_path: Path) -> None:
    assert yaml.safe_load("lr: 1e-4") == {"lr": "1e-4"}  # why this matters
    path = tmp_path / "recipe.yaml"
    path.write_text("trainer:\n  optim:\n    lr: 1e-4\n    weight_decay: 5e-4\n", encoding="utf-8")
    recipe = load_recipe(path, ["trainer.schedule.gamma=1e-1"])
    optim, schedule = recipe.trainer.optim, recipe.trainer.schedule
    assert (optim.lr, optim.weight_decay, schedule.gamma) == (1e-4, 5e-4, 0.1)
    assert all(type(x) is float for x in (optim.lr, schedule.gamma))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.epochs=true", "trainer.epochs is True; expected an integer."),
        (
            "trainer.output.progress=maybe",
            "trainer.output.progress is 'maybe'; expected true or false.",
        ),
        ("trainer.epochs=3.5", "trainer.epochs is 3.5; expected an integer."),
        ("trainer.output.resume=1", "trainer.output.resume is 1; expected true or false."),
        ("trainer.optim.lr=abc", "trainer.optim.lr is 'abc'; expected a finite number."),
        ("trainer.optim.lr=.nan", "trainer.optim.lr is nan; expected a finite number."),
        ("trainer.optim.lr=true", "trainer.optim.lr is True; expected a finite number."),
        (
            "trainer.sampling.kind=PK",
            "trainer.sampling.kind is 'PK'; expected one of 'pk', 'triplet'.",
        ),
        (
            "trainer.optim.grad_clip=big",
            "trainer.optim.grad_clip is 'big'; expected a finite number or null.",
        ),
        (
            "trainer.schedule.milestones=[40, x]",
            "trainer.schedule.milestones[1] is 'x'; expected an integer.",
        ),
        ("trainer.schedule.milestones=40", "trainer.schedule.milestones is 40; expected a list of"),
        ("trainer.augment=yes", "trainer.augment is True; expected a mapping of TransformConfig"),
        ("trainer.augment.pad=1.5", "trainer.augment.pad is 1.5; expected an integer."),
        ("trainer.losses=[{kind: id, weight: x}]", "trainer.losses[0].weight is 'x'; expected"),
        ("trainer.losses=[{kind: ID}]", "trainer.losses[0].kind is 'ID'; expected one of"),
        ("trainer.epochs=null", "trainer.epochs is None; expected an integer."),
        ("model.input_size=[256, 128, 3]", "model.input_size is [256, 128, 3]; expected a list"),
        ("model.input_size=[256, wide]", "model.input_size[1] is 'wide'; expected an integer."),
        ("model.pretrained=no_thanks", "model.pretrained is 'no_thanks'; expected true or false."),
        ("model.embedding_dim=512.0", "model.embedding_dim is 512.0; expected an integer."),
        ("data.root=2024", "data.root is 2024; expected a string"),
        ("data.seed=false", "data.seed is False; expected an integer."),
        ("model=resnet18", "model is 'resnet18'; expected a mapping of ModelConfig fields."),
    ],
)
def test_overrides_are_refused_with_a_message_naming_field_value_and_type(
    override: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe(None, [override])
    assert str(info.value).startswith(message)


def test_valid_values_still_load() -> None:
    recipe = load_recipe(
        None,
        [
            "trainer.epochs=3",
            "trainer.output.progress=false",
            "trainer.optim.grad_clip=null",
            "trainer.optim.grad_clip=5",
            "trainer.output.tensorboard=null",
            "trainer.schedule.milestones=[1, 2]",
            "model.drop_path_rate=0",
            "model.input_size=[64, 32]",
            "trainer.augment={height: 64, width: 32}",
        ],
    )
    assert recipe.trainer.epochs == 3
    assert recipe.trainer.output.progress is False
    assert recipe.trainer.optim.grad_clip == 5.0
    assert type(recipe.trainer.optim.grad_clip) is float
    assert recipe.model.drop_path_rate == 0.0
    assert recipe.model.input_size == (64, 32)
    assert recipe.trainer.augment == TransformConfig(height=64, width=32)


def test_cli_train_refuses_a_bool_epoch_count_in_one_line(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "model: {backbone: resnet18, pretrained: false}\n"
        f"data: {{dataset: market1501, root: {str(tmp_path / 'no_data')!r}}}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [
            sys.executable,
            *("-m", "siamreid", "train", "--config", str(recipe)),
            *("trainer.epochs=true", "--out", str(tmp_path / "run")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["siamreid train: error: trainer.epochs is True; expected an integer."]
    assert not (tmp_path / "run").exists()
