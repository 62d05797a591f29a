"""A recipe: model, data and trainer configs together, read from and written to YAML or JSON.

Unknown keys are rejected with the list of valid ones, and every value is checked against its
field's type (integers are integers, not ``true`` or ``3.5``; booleans are ``true``/``false``;
strings are strings; choices are one of theirs; ``null`` only where the field allows it), with a
message naming ``section.field``, the value and the expected type. Number fields take integers
and strings that read as numbers, because YAML 1.1 (PyYAML) reads ``1e-4`` without a dot as a
string. A key given twice in one mapping is an error naming it and both lines (YAML would
silently keep the last). Every field can be overridden with a dotted ``section.field=value`` string
(``trainer.group.field=value`` inside the trainer's groups; the value is parsed as YAML), as the
command line does::

    recipe = load_recipe("configs/market1501_efficientnet_b0.yaml", ["trainer.optim.lr=1e-3"])
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from siamreid._io import atomic_write_text
from siamreid.data.config import DataConfig
from siamreid.errors import ConfigError
from siamreid.models.config import ModelConfig
from siamreid.training.config import TrainerConfig, moved_key_message

__all__ = ["Recipe", "apply_overrides", "load_recipe", "recipe_from_dict", "save_recipe"]

T = TypeVar("T")


@dataclass(frozen=True)
class Recipe:
    """Everything a training run needs: ``model``, ``data`` and ``trainer`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), as written to YAML/JSON."""
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _describe(tp: Any) -> str:
    """What a field of type ``tp`` accepts, in the words of a recipe file."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        parts = [_describe(a) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("null")
        return " or ".join(parts)
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of ({_describe(args[0])})"
        return f"a list of {len(args)} items: " + ", ".join(f"({_describe(a)})" for a in args)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return f"a mapping of {tp.__name__} fields"
    return _SCALAR_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


_SCALAR_NAMES: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a finite number",
    str: "a string",
}


def _refuse(tp: Any, value: Any, where: str) -> ConfigError:
    hint = " (quote it to keep it a string)" if tp is str and value is not None else ""
    if typing.get_origin(tp) is Literal and isinstance(value, str):  # a typo of a name
        names = [c for c in typing.get_args(tp) if isinstance(c, str)]
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where} is {value!r}; expected {_describe(tp)}{hint}.")


def _to_float(value: Any, where: str) -> float:
    # PyYAML follows YAML 1.1, which reads ``1e-4`` (no dot) as a string: accept any string
    # that Python parses as a number, and integers, but never booleans.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _refuse(float, value, where)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise _refuse(float, value, where) from None
    if not math.isfinite(number):
        raise _refuse(float, value, where)
    return number


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (and convert where lossless)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _convert_union(tp, value, where)
    if origin is Literal:
        for choice in typing.get_args(tp):
            if type(value) is type(choice) and value == choice:
                return value
        raise _refuse(tp, value, where)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise _refuse(tp, value, where)
        return _build(tp, value, where)
    if origin is tuple:
        return _convert_tuple(tp, value, where)
    return _convert_scalar(tp, value, where)


def _convert_union(tp: Any, value: Any, where: str) -> Any:
    args = typing.get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise _refuse(tp, value, where)
    inner = [a for a in args if a is not type(None)]
    if len(inner) == 1:
        try:
            return _convert(inner[0], value, where)
        except ConfigError as err:
            if type(None) in args and str(err).startswith(f"{where} is "):
                raise _refuse(tp, value, where) from None
            raise
    for candidate in inner:
        try:
            return _convert(candidate, value, where)
        except ConfigError:
            continue
    raise _refuse(tp, value, where)


def _convert_tuple(tp: Any, value: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise _refuse(tp, value, where)
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise _refuse(tp, value, where)
    pairs = enumerate(zip(args, value, strict=True))
    return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in pairs)


def _convert_scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is float:
        return _to_float(value, where)
    # bool is an int subclass and 3.5 would truncate: both are refused as integers.
    wrong = {
        bool: not isinstance(value, bool),
        int: isinstance(value, bool) or not isinstance(value, int),
        str: not isinstance(value, str),
    }
    if wrong.get(tp, False):
        raise _refuse(tp, value, where)
    return int(value) if tp is int else value


def _build(cls: type[T], data: dict[str, Any], where: str) -> T:
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    moved = moved_key_message(unknown, where, "see configs/market1501_efficientnet_b0.yaml")
    if cls is TrainerConfig and moved is not None:
        raise ConfigError(moved)
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {unknown} in {where or 'the recipe'}. Valid keys: {', '.join(names)}."
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"Invalid value in {where or 'the recipe'}: {err}.") from err


def recipe_from_dict(data: dict[str, Any]) -> Recipe:
    """Build a :class:`Recipe` from plain data, validating every key."""
    if not isinstance(data, dict):
        raise ConfigError(f"A recipe is a mapping of sections, got {data!r}.")
    return _build(Recipe, data, "")


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.field=value`` overrides (values parsed as YAML) to plain recipe data."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"Override {item!r} is not of the form section.field=value.")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: {part!r} is not a section.")
        node[parts[-1]] = yaml.safe_load(raw)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first:
                raise ConfigError(
                    f"Recipe file {str(self.name)!r}, line {line}: key {key!r} is given twice "
                    f"(first on line {first[key]}); YAML would keep the last silently. Remove "
                    "one of them."
                )
            first.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(path: Path) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ConfigError(
                f"Recipe file {str(path)!r}: key {twice[0]!r} is given twice in one object; "
                "JSON would keep the last silently. Remove one of them."
            )
        return dict(pairs)

    return hook


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Recipe file {str(path)!r} does not exist; see the configs/ folder.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_pairs(path))
        else:
            loader = _UniqueKeyLoader(text)
            loader.name = str(path)
            try:
                data = loader.get_single_data()
            finally:
                loader.dispose()
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"Recipe file {str(path)!r} does not parse: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"Recipe file {str(path)!r} must hold a mapping at the top level.")
    return data


def load_recipe(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None
) -> Recipe:
    """Read a YAML or JSON recipe and apply dotted overrides.

    Example:
        >>> recipe = load_recipe("configs/seed_siamese_triplet.yaml", ["trainer.epochs=2"])
        ... # doctest: +SKIP
    """
    data = _read(Path(path)) if path is not None else {}
    return recipe_from_dict(apply_overrides(data, overrides or []))


def save_recipe(recipe: Recipe, path: str | os.PathLike[str]) -> None:
    """Write a recipe as YAML (``.yaml``/``.yml``) or JSON (any other suffix), atomically."""
    path = Path(path)
    data = recipe.to_dict()
    text = (
        yaml.safe_dump(data, sort_keys=False)
        if path.suffix in (".yaml", ".yml")
        else json.dumps(data, indent=2)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
