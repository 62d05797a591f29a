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

This module writes and reads the whole bundle; the file layout and format versions live in
:mod:`~siamreid.retrieval.bundle.layout`, the steps around the commit point (and a reader's
retry) in :mod:`~siamreid.retrieval.bundle.commit`, and the validated reads of each field and
file in :mod:`~siamreid.retrieval.bundle.checks`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from siamreid._io import (
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    read_record,
    record,
    remove_stale_temps,
    temp_dir,
    writer_lock,
)
from siamreid.errors import IndexFormatError
from siamreid.retrieval.backends import BACKEND_NAMES, INDEX_KINDS
from siamreid.retrieval.backends.options import is_index_id
from siamreid.retrieval.bundle.checks import (
    MetaChecker,
    read_names,
    read_paths,
    read_tensors,
)
from siamreid.retrieval.bundle.commit import (
    read_consistently,
    refuse_foreign_target,
    remove_previous,
    remove_unreferenced_versions,
)
from siamreid.retrieval.bundle.layout import (
    EMBEDDINGS_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FOLDER,
    NAMES_FILE,
    PATHS_FILE,
    VERSION_PREFIX,
    BundleVersion,
    current_version,
    resolved_path,
    sha256,
    stored_path,
)
from siamreid.retrieval.gallery import Gallery
from siamreid.typing import METRICS

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "IndexMeta",
    "ModelLoader",
    "ModelSaver",
    "StoredIndex",
    "read_index",
    "write_index",
]

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
    index_id: str | None = None  # the index's identity (its Milvus collection's owner mark)


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
    refuse_foreign_target(directory)
    with writer_lock(directory, what="index", error=IndexFormatError):
        previous = current_version(directory)
        remove_stale_temps(directory)
        remove_unreferenced_versions(directory, keep=previous)
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
        remove_previous(directory, previous)
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
        stored = [stored_path(p, bundle) for p in gallery.paths]
        atomic_write_text(folder / PATHS_FILE, json.dumps(stored))
        written.append(PATHS_FILE)
    if names:
        table = {str(k): str(v) for k, v in sorted(names.items())}
        atomic_write_text(folder / NAMES_FILE, json.dumps(table, indent=2))
        written.append(NAMES_FILE)
    return {name: sha256(folder / name) for name in written}


def _write_model(
    folder: Path,
    bundle: Path,
    previous: BundleVersion | None,
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
    return read_consistently(directory, lambda: _read_once(directory, load_model))


def _read_once(directory: Path, load_model: ModelLoader | None) -> StoredIndex:
    rec = read_record(
        directory / META_FILE,
        format_name=FORMAT_NAME,
        max_version=FORMAT_VERSION,
        error=IndexFormatError,
        hint=_HINT,
    )
    check = MetaChecker(directory / META_FILE, rec)
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
        index_id=check.optional_str("index_id"),
    )
    if meta.index_id is not None and not is_index_id(meta.index_id):
        raise check.fail("index_id", "32 hex digits")
    gallery = Gallery(dim)
    tensors = read_tensors(folder, check, count, dim or 0)
    paths = None
    if check.boolean("has_paths"):
        paths = [resolved_path(p, directory) for p in read_paths(folder, check, count)]
    if count:
        gallery.append(tensors["embeddings"], tensors["ids"], tensors.get("camids"), paths)
    names = read_names(folder, check)
    model = _read_model(folder, rec, load_model)
    return StoredIndex(gallery, meta, names, model)


def _read_model(folder: Path, rec: dict[str, Any], load_model: ModelLoader | None) -> Any:
    path = folder / MODEL_FOLDER
    has_model = rec.get("has_model") if rec["format_version"] >= 2 else path.is_dir()
    if load_model is None or not has_model:
        return None
    return load_model(path)
