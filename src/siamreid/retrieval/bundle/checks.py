"""Validated reads of an index bundle: every field of ``meta.json`` and every data file.

Any problem raises :class:`~siamreid.errors.IndexFormatError` naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from siamreid.errors import ConfigError, IndexFormatError
from siamreid.retrieval.backends import IndexOptions
from siamreid.retrieval.bundle.layout import (
    EMBEDDINGS_FILE,
    META_FILE,
    NAMES_FILE,
    PATHS_FILE,
    VERSION_PREFIX,
    sha256,
)

__all__ = ["MetaChecker", "read_names", "read_paths", "read_tensors", "verified"]


class MetaChecker:
    """Typed reads of meta.json fields; a bad field raises naming the file and the field."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path, self.record = path, record

    def fail(self, name: str, expected: str) -> IndexFormatError:
        """The error for field ``name``, which should have been ``expected``."""
        value = self.record.get(name, "<missing>")
        return IndexFormatError(
            f"{str(self.path)!r}: field {name!r} is {value!r}, expected {expected}; the index is "
            "corrupt. Save it again from the gallery."
        )

    def version(self) -> str:
        """The name of the version folder the record points at."""
        value = self.record.get("version")
        if not isinstance(value, str) or not value.startswith(VERSION_PREFIX) or "/" in value:
            raise self.fail("version", f"the name of a {VERSION_PREFIX}* folder")
        return value

    def integer(self, name: str, minimum: int, optional: bool = False) -> Any:
        """An integer field ``>= minimum`` (``None`` allowed when ``optional``)."""
        value = self.record.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"an integer >= {minimum}")
        return value

    def boolean(self, name: str) -> bool:
        """A true/false field."""
        value = self.record.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """A field holding one of ``choices``."""
        value = self.record.get(name)
        if value not in choices:
            raise self.fail(name, f"one of {list(choices)}")
        return str(value)

    def optional_str(self, name: str) -> str | None:
        """A string or null field."""
        value = self.record.get(name)
        if value is not None and not isinstance(value, str):
            raise self.fail(name, "a string or null")
        return value

    def options(self) -> dict[str, Any]:
        """The index options, as :meth:`IndexOptions.to_dict` writes them."""
        value = self.record.get("options")
        try:
            return IndexOptions.from_dict(value).to_dict()  # type: ignore[arg-type]
        except (ConfigError, TypeError) as err:
            raise self.fail("options", f"IndexOptions fields ({err})") from err

    def sha256(self, file: str) -> str:
        """The checksum recorded for ``file``."""
        value = self.record.get("sha256")
        if not isinstance(value, dict) or not isinstance(value.get(file), str):
            raise self.fail("sha256", f"a mapping with the checksum of {file}")
        return str(value[file])


def verified(folder: Path, file: str, check: MetaChecker) -> Path:
    """``folder/file``, once it exists and matches the checksum in the record."""
    path = folder / file
    if not path.is_file():
        raise IndexFormatError(f"{str(path)!r} is missing; the index is incomplete.")
    if sha256(path) != check.sha256(file):
        raise IndexFormatError(
            f"{str(path)!r} does not match the sha256 recorded in {META_FILE}: the file is "
            "corrupt or was replaced. Restore it, or save the index again."
        )
    return path


def read_tensors(folder: Path, check: MetaChecker, count: int, dim: int) -> dict[str, torch.Tensor]:
    """The embeddings, ids and (when recorded) cameras, of the shapes the record promises."""
    path = verified(folder, EMBEDDINGS_FILE, check)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise IndexFormatError(
            f"{str(path)!r} is not a readable safetensors file ({err})."
        ) from err
    expected = {"embeddings": ((count, dim), torch.float32), "ids": ((count,), torch.int64)}
    if check.boolean("has_camids"):
        expected["camids"] = ((count,), torch.int64)
    for key, (shape, dtype) in expected.items():
        tensor = tensors.get(key)
        if tensor is None or tuple(tensor.shape) != shape or tensor.dtype != dtype:
            found = None if tensor is None else (tuple(tensor.shape), tensor.dtype)
            raise IndexFormatError(
                f"{str(path)!r}: tensor {key!r} is {found}, but {META_FILE} (count={count}, "
                f"embedding_dim={dim}) promises {shape} {dtype}; the index is corrupt."
            )
    return tensors


def read_paths(folder: Path, check: MetaChecker, count: int) -> list[str]:
    """The ``count`` stored image paths (as stored: relative to the bundle when local)."""
    path = verified(folder, PATHS_FILE, check)
    try:
        paths = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"{str(path)!r} is not valid JSON ({err}).") from err
    if not isinstance(paths, list) or len(paths) != count:
        raise IndexFormatError(f"{str(path)!r} must be a list of {count} paths.")
    if not all(isinstance(p, str) for p in paths):
        raise IndexFormatError(f"{str(path)!r} must hold strings only.")
    return paths


def read_names(folder: Path, check: MetaChecker) -> dict[int, str] | None:
    """The id names, or ``None`` when the bundle has none."""
    path = folder / NAMES_FILE
    if check.record["format_version"] >= 2:
        if not check.boolean("has_names"):
            return None
        verified(folder, NAMES_FILE, check)
    elif not path.is_file():
        return None
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(table, dict):
            raise TypeError(f"a JSON object, got {type(table).__name__}")
        return {int(k): str(v) for k, v in table.items()}
    except (OSError, ValueError, TypeError) as err:
        raise IndexFormatError(
            f"{str(path)!r} is not a mapping of integer ids to names ({err}); the index is "
            "corrupt. Build it again."
        ) from err
