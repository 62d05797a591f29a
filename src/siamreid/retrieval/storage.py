"""The index bundle: the one module that writes and reads a saved gallery.

A bundle folder holds::

    meta.json                format "siamreid-index", format_version 2, the current version
                             folder, embedder name and weights digest, width, metric, backend,
                             index, options, counts and the sha256 of every data file
    v-XXXXXXXX/embeddings.safetensors   "embeddings" [N, D] float32, "ids" [N] int64,
                                        "camids" [N] int64 (when the gallery has cameras)
    v-XXXXXXXX/paths.json    N image paths; local paths relative to the bundle folder
    v-XXXXXXXX/names.json    {id: name} (when ids stand for named people)
    v-XXXXXXXX/model/        a copy of the embedder (``save_pretrained``), when saved with one
    .siamreid.lock           held by the process that is saving

A save writes a new version folder, then replaces ``meta.json`` atomically (the commit point),
then deletes the previous version. Readers take no lock: one that finds files gone because a
save committed meanwhile reads ``meta.json`` again. Two processes saving at once: the second gets
:class:`IndexFormatError`. Files the bundle does not own (anything but ``meta.json``, ``v-*``
folders, the lock and ``.*.tmp-*`` leftovers of killed saves) are never touched. Bundles of
format_version 1 (files at the top level, written by siamreid 0.1) are read too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from siamreid._io import (
    LOCK_FILE,
    TEMP_MARK,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    read_record,
    record,
    remove_stale_temps,
    temp_dir,
    writer_lock,
)
from siamreid.errors import CheckpointError, ConfigError, IndexFormatError
from siamreid.retrieval.backends import BACKEND_NAMES, INDEX_KINDS, IndexOptions
from siamreid.retrieval.gallery import Gallery
from siamreid.typing import METRICS

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "IndexMeta",
    "StoredIndex",
    "read_index",
    "write_index",
]

FORMAT_NAME = "siamreid-index"
FORMAT_VERSION = 2
EMBEDDINGS_FILE = "embeddings.safetensors"
PATHS_FILE = "paths.json"
NAMES_FILE = "names.json"
MODEL_FOLDER = "model"
META_FILE = "meta.json"
VERSION_PREFIX = "v-"
_READ_ATTEMPTS = 5
_HINT = "Point Retriever.load (or --index) at a folder written by Retriever.save."

# What saves a model copy into a folder, and what loads one (SiameseEmbedder.save_pretrained and
# siamreid.models.load_pretrained): passed in, so that retrieval imports no model code.
ModelSaver = Callable[[Path], object]
ModelLoader = Callable[[Path], Any]


@dataclass(frozen=True)
class IndexMeta:
    """What ``meta.json`` records besides the counts and checksums."""

    embedder: str | None
    embedding_dim: int | None
    metric: str
    backend: str
    index: str
    options: dict[str, Any] = field(default_factory=dict)
    embedder_digest: str | None = None


@dataclass(frozen=True)
class StoredIndex:
    """A bundle read back: the gallery, its record, the id names and the loaded model copy."""

    gallery: Gallery
    meta: IndexMeta
    names: dict[int, str] | None
    model: Any | None


# ----------------------------------------------------------------------------------- writing
def write_index(
    directory: Path,
    gallery: Gallery,
    meta: IndexMeta,
    *,
    names: dict[int, str] | None = None,
    save_model: ModelSaver | None = None,
) -> Path:
    """Save a bundle into ``directory`` (see the module docstring).

    Args:
        directory: The bundle folder (created; an existing bundle is updated in place).
        gallery: Embeddings, ids, cameras and paths.
        meta: The record's settings.
        names: Names of the ids, kept in the bundle.
        save_model: Writes a model copy into the folder it is given. Without it, the previous
            version's copy is kept when it has the same weights digest as ``meta``.

    Raises:
        IndexFormatError: ``directory`` holds something that is not a bundle, or another
            process is saving into it.
    """
    _refuse_foreign_target(directory)
    with writer_lock(directory, what="index", error=IndexFormatError):
        previous = _current_version(directory)
        remove_stale_temps(directory)
        _remove_unreferenced_versions(directory, keep=previous)
        version = f"{VERSION_PREFIX}{secrets.token_hex(6)}"
        tmp = temp_dir(directory / version)
        try:
            files = _write_version(tmp, directory, gallery, names)
            has_model = _write_model(tmp, directory, previous, meta, save_model)
            os.replace(tmp, directory / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        rec = _record(version, gallery, meta, files, has_model=has_model, has_names=bool(names))
        atomic_write_json(directory / META_FILE, rec)  # the commit point
        _remove_previous(directory, previous)
    return directory


def _write_version(
    folder: Path, bundle: Path, gallery: Gallery, names: dict[int, str] | None
) -> dict[str, str]:
    tensors = {"embeddings": gallery.embeddings.contiguous(), "ids": gallery.ids.contiguous()}
    if gallery.camids is not None:
        tensors["camids"] = gallery.camids.contiguous()
    atomic_write(folder / EMBEDDINGS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    written = [EMBEDDINGS_FILE]
    if gallery.paths is not None:
        stored = [_stored_path(p, bundle) for p in gallery.paths]
        atomic_write_text(folder / PATHS_FILE, json.dumps(stored))
        written.append(PATHS_FILE)
    if names:
        table = {str(k): str(v) for k, v in sorted(names.items())}
        atomic_write_text(folder / NAMES_FILE, json.dumps(table, indent=2))
        written.append(NAMES_FILE)
    return {name: _sha256(folder / name) for name in written}


def _write_model(
    folder: Path,
    bundle: Path,
    previous: _Version | None,
    meta: IndexMeta,
    save_model: ModelSaver | None,
) -> bool:
    if save_model is not None:
        save_model(folder / MODEL_FOLDER)
        return True
    if previous is None or previous.model is None or meta.embedder_digest is None:
        return False
    if previous.digest != meta.embedder_digest:
        return False  # the old copy is another model: keeping it would be a silent wrong answer
    shutil.copytree(previous.model, folder / MODEL_FOLDER)
    return True


def _record(
    version: str,
    gallery: Gallery,
    meta: IndexMeta,
    files: dict[str, str],
    *,
    has_model: bool,
    has_names: bool,
) -> dict[str, Any]:
    return record(
        FORMAT_NAME,
        FORMAT_VERSION,
        {
            "version": version,
            **asdict(meta),
            "count": len(gallery),
            "num_ids": int(torch.unique(gallery.ids).numel()),
            "has_camids": gallery.camids is not None,
            "has_paths": gallery.paths is not None,
            "has_names": has_names,
            "has_model": has_model,
            "sha256": files,
        },
    )


@dataclass(frozen=True)
class _Version:
    """The data folder the bundle's record points at now, and its model copy."""

    folder: Path
    version: int
    model: Path | None
    digest: str | None


def _current_version(directory: Path) -> _Version | None:
    try:
        rec = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT_NAME:
        return None
    if rec.get("format_version") == 1:
        model = directory / MODEL_FOLDER
        return _Version(directory, 1, model if model.is_dir() else None, None)
    name = rec.get("version")
    if not isinstance(name, str) or not name.startswith(VERSION_PREFIX):
        return None
    folder = directory / name
    model = folder / MODEL_FOLDER
    digest = rec.get("embedder_digest")
    return _Version(folder, 2, model if model.is_dir() else None, digest)


def _remove_previous(directory: Path, previous: _Version | None) -> None:
    if previous is None:
        return
    if previous.version >= 2:
        shutil.rmtree(previous.folder, ignore_errors=True)
        return
    # a version-1 bundle kept its files at the top level: all of these were its own
    for name in (EMBEDDINGS_FILE, PATHS_FILE, NAMES_FILE):
        (directory / name).unlink(missing_ok=True)
    if previous.model is not None:
        shutil.rmtree(previous.model, ignore_errors=True)


def _remove_unreferenced_versions(directory: Path, keep: _Version | None) -> None:
    """Version folders a killed save renamed into place but never committed."""
    for entry in directory.iterdir():
        is_version = entry.name.startswith(VERSION_PREFIX) and entry.is_dir()
        if is_version and not entry.is_symlink() and (keep is None or entry != keep.folder):
            shutil.rmtree(entry, ignore_errors=True)


def _ours(entry: Path) -> bool:
    name = entry.name
    return name == LOCK_FILE or (name.startswith(".") and TEMP_MARK in name)


def _refuse_foreign_target(directory: Path) -> None:
    if not directory.exists():
        return
    if not directory.is_dir():
        raise IndexFormatError(
            f"Cannot save an index to {str(directory)!r}: it is a file. Choose a folder."
        )
    if all(_ours(e) or e.name.startswith(VERSION_PREFIX) for e in directory.iterdir()):
        return  # empty, or only what a killed first save left
    if _current_version(directory) is None:
        raise IndexFormatError(
            f"Refusing to save an index into {str(directory)!r}: it holds files but is not a "
            f"siamreid index (no {META_FILE} with format {FORMAT_NAME!r}). Save to a new or "
            "empty folder."
        )


# ----------------------------------------------------------------------------------- reading
def read_index(directory: Path, *, load_model: ModelLoader | None = None) -> StoredIndex:
    """Read and validate a bundle; any problem raises :class:`IndexFormatError`.

    Args:
        directory: The bundle folder.
        load_model: Loads the bundle's model copy from its folder; without it (or without a
            copy) :attr:`StoredIndex.model` is ``None``.
    """
    if not directory.is_dir():
        raise IndexFormatError(f"No index folder at {str(directory)!r}. Check the path.")
    for _ in range(_READ_ATTEMPTS - 1):
        seen = _meta_bytes(directory)
        try:
            return _read_once(directory, load_model)
        except (IndexFormatError, CheckpointError):
            if _meta_bytes(directory) == seen:
                raise  # nothing was saved meanwhile: the bundle itself is at fault
    return _read_once(directory, load_model)


def _meta_bytes(directory: Path) -> bytes | None:
    try:
        return (directory / META_FILE).read_bytes()
    except OSError:
        return None


def _read_once(directory: Path, load_model: ModelLoader | None) -> StoredIndex:
    rec = read_record(
        directory / META_FILE,
        format_name=FORMAT_NAME,
        max_version=FORMAT_VERSION,
        error=IndexFormatError,
        hint=_HINT,
    )
    check = _MetaChecker(directory / META_FILE, rec)
    folder = directory if rec["format_version"] == 1 else directory / check.version()
    count = check.integer("count", minimum=0)
    dim = check.integer("embedding_dim", minimum=1, optional=count == 0)
    meta = IndexMeta(
        embedder=check.optional_str("embedder"),
        embedding_dim=dim,
        metric=check.choice("metric", METRICS),
        backend=check.choice("backend", BACKEND_NAMES),
        index=check.choice("index", INDEX_KINDS),
        options=check.options(),
        embedder_digest=check.optional_str("embedder_digest"),
    )
    gallery = Gallery(dim)
    tensors = _read_tensors(folder, check, count, dim or 0)
    paths = None
    if check.boolean("has_paths"):
        paths = [_resolved_path(p, directory) for p in _read_paths(folder, check, count)]
    if count:
        gallery.append(tensors["embeddings"], tensors["ids"], tensors.get("camids"), paths)
    names = _read_names(folder, check, rec)
    model = _read_model(folder, rec, load_model)
    return StoredIndex(gallery, meta, names, model)


def _read_model(folder: Path, rec: dict[str, Any], load_model: ModelLoader | None) -> Any:
    path = folder / MODEL_FOLDER
    has_model = rec.get("has_model") if rec["format_version"] >= 2 else path.is_dir()
    if load_model is None or not has_model:
        return None
    return load_model(path)


def _read_names(folder: Path, check: _MetaChecker, rec: dict[str, Any]) -> dict[int, str] | None:
    path = folder / NAMES_FILE
    if rec["format_version"] >= 2:
        if not check.boolean("has_names"):
            return None
        _verified(folder, NAMES_FILE, check)
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


class _MetaChecker:
    """Typed reads of meta.json fields; a bad field raises naming the file and the field."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path, self.record = path, record

    def fail(self, name: str, expected: str) -> IndexFormatError:
        value = self.record.get(name, "<missing>")
        return IndexFormatError(
            f"{str(self.path)!r}: field {name!r} is {value!r}, expected {expected}; the index is "
            "corrupt. Save it again from the gallery."
        )

    def version(self) -> str:
        value = self.record.get("version")
        if not isinstance(value, str) or not value.startswith(VERSION_PREFIX) or "/" in value:
            raise self.fail("version", f"the name of a {VERSION_PREFIX}* folder")
        return value

    def integer(self, name: str, minimum: int, optional: bool = False) -> Any:
        value = self.record.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"an integer >= {minimum}")
        return value

    def boolean(self, name: str) -> bool:
        value = self.record.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.record.get(name)
        if value not in choices:
            raise self.fail(name, f"one of {list(choices)}")
        return str(value)

    def optional_str(self, name: str) -> str | None:
        value = self.record.get(name)
        if value is not None and not isinstance(value, str):
            raise self.fail(name, "a string or null")
        return value

    def options(self) -> dict[str, Any]:
        value = self.record.get("options")
        try:
            return IndexOptions.from_dict(value).to_dict()  # type: ignore[arg-type]
        except (ConfigError, TypeError) as err:
            raise self.fail("options", f"IndexOptions fields ({err})") from err

    def sha256(self, file: str) -> str:
        value = self.record.get("sha256")
        if not isinstance(value, dict) or not isinstance(value.get(file), str):
            raise self.fail("sha256", f"a mapping with the checksum of {file}")
        return str(value[file])


def _verified(folder: Path, file: str, check: _MetaChecker) -> Path:
    path = folder / file
    if not path.is_file():
        raise IndexFormatError(f"{str(path)!r} is missing; the index is incomplete.")
    if _sha256(path) != check.sha256(file):
        raise IndexFormatError(
            f"{str(path)!r} does not match the sha256 recorded in {META_FILE}: the file is "
            "corrupt or was replaced. Restore it, or save the index again."
        )
    return path


def _read_tensors(
    folder: Path, check: _MetaChecker, count: int, dim: int
) -> dict[str, torch.Tensor]:
    path = _verified(folder, EMBEDDINGS_FILE, check)
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


def _read_paths(folder: Path, check: _MetaChecker, count: int) -> list[str]:
    path = _verified(folder, PATHS_FILE, check)
    try:
        paths = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"{str(path)!r} is not valid JSON ({err}).") from err
    if not isinstance(paths, list) or len(paths) != count:
        raise IndexFormatError(f"{str(path)!r} must be a list of {count} paths.")
    if not all(isinstance(p, str) for p in paths):
        raise IndexFormatError(f"{str(path)!r} must hold strings only.")
    return paths


def _is_local(path: str) -> bool:
    return "://" not in path and path != ""


def _stored_path(path: str, bundle: Path) -> str:
    """Local paths are stored relative to the bundle, so that the two can move together."""
    if not _is_local(path):
        return path
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(bundle))).as_posix()


def _resolved_path(stored: str, bundle: Path) -> str:
    if not _is_local(stored) or os.path.isabs(stored):
        return stored
    return os.path.normpath(os.path.join(bundle, stored))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
