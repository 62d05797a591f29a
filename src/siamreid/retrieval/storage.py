"""The versioned on-disk format of a gallery: save atomically, load with every field checked.

An index folder holds::

    embeddings.safetensors   "embeddings" [N, D] float32, "ids" [N] int64, "camids" [N] int64
    paths.json               N image paths (only when the gallery has paths)
    meta.json                format, format_version, embedder, embedding_dim, metric, backend,
                             index, options, counts, sha256 of the other files

It is written under a temporary name beside the target and swapped in at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from siamreid._version import __version__
from siamreid.errors import ConfigError, IndexFormatError
from siamreid.retrieval.backends import BACKEND_NAMES, INDEX_KINDS, METRICS, IndexOptions
from siamreid.retrieval.gallery import Gallery

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "IndexMeta", "read_index", "write_index"]

FORMAT_NAME = "siamreid-index"
FORMAT_VERSION = 1
EMBEDDINGS_FILE = "embeddings.safetensors"
PATHS_FILE = "paths.json"
META_FILE = "meta.json"


@dataclass(frozen=True)
class IndexMeta:
    """What ``meta.json`` records besides the counts."""

    embedder: str | None
    embedding_dim: int | None
    metric: str
    backend: str
    index: str
    options: dict[str, Any] = field(default_factory=dict)


def write_index(directory: Path, gallery: Gallery, meta: IndexMeta) -> Path:
    """Write ``gallery`` and ``meta`` to ``directory`` atomically (see the module docstring)."""
    _refuse_foreign_target(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        _write_files(tmp, gallery, meta)
        _swap_in(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _write_files(folder: Path, gallery: Gallery, meta: IndexMeta) -> None:
    tensors = {"embeddings": gallery.embeddings.contiguous(), "ids": gallery.ids.contiguous()}
    if gallery.camids is not None:
        tensors["camids"] = gallery.camids.contiguous()
    save_file(tensors, str(folder / EMBEDDINGS_FILE))
    _fsync(folder / EMBEDDINGS_FILE)
    files = [EMBEDDINGS_FILE]
    if gallery.paths is not None:
        _write_text(folder / PATHS_FILE, json.dumps(gallery.paths))
        files.append(PATHS_FILE)
    record = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "written_by": f"siamreid {__version__}",
        **asdict(meta),
        "count": len(gallery),
        "num_ids": int(torch.unique(gallery.ids).numel()),
        "has_camids": gallery.camids is not None,
        "has_paths": gallery.paths is not None,
        "sha256": {name: _sha256(folder / name) for name in files},
    }
    _write_text(folder / META_FILE, json.dumps(record, indent=2))


def _write_text(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk (directories: best effort, POSIX only)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _refuse_foreign_target(directory: Path) -> None:
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        return
    try:
        ours = json.loads((directory / META_FILE).read_text("utf-8")).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise IndexFormatError(
            f"Refusing to replace {str(directory)!r}: it exists and is not a siamreid index "
            f"(no {META_FILE} with format {FORMAT_NAME!r}). Save to a new or empty directory."
        )


def _swap_in(tmp: Path, directory: Path) -> None:
    """Rename ``tmp`` to ``directory``, moving an existing index aside until the swap is done."""
    if not directory.exists():
        os.replace(tmp, directory)
        _fsync(directory.parent)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    try:
        os.replace(directory, old)  # renaming onto an empty directory replaces it
    except BaseException:
        old.rmdir()
        raise
    try:
        os.replace(tmp, directory)
    except BaseException:
        os.replace(old, directory)
        raise
    shutil.rmtree(old, ignore_errors=True)
    _fsync(directory.parent)


def read_index(directory: Path) -> tuple[Gallery, IndexMeta]:
    """Read and validate an index folder; any problem raises :class:`IndexFormatError`."""
    if not directory.is_dir():
        leftovers = sorted(directory.parent.glob(f".{directory.name}.old-*"))
        hint = "Check the path."
        if leftovers:
            hint = f"A save was interrupted: rename {str(leftovers[-1])!r} back to it."
        raise IndexFormatError(f"No index directory at {str(directory)!r}. {hint}")
    record = _read_meta(directory / META_FILE)
    check = _MetaChecker(directory / META_FILE, record)
    count = check.integer("count", minimum=0)
    dim = check.integer("embedding_dim", minimum=1, optional=count == 0)
    meta = IndexMeta(
        embedder=check.optional_str("embedder"),
        embedding_dim=dim,
        metric=check.choice("metric", METRICS),
        backend=check.choice("backend", BACKEND_NAMES),
        index=check.choice("index", INDEX_KINDS),
        options=check.options(),
    )
    gallery = Gallery(dim)
    tensors = _read_tensors(directory, check, count, dim or 0)
    paths = _read_paths(directory, check, count) if check.boolean("has_paths") else None
    if count:
        gallery.append(tensors["embeddings"], tensors["ids"], tensors.get("camids"), paths)
    return gallery, meta


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise IndexFormatError(
            f"{str(path)!r} is missing: {str(path.parent)!r} is not a siamreid index (or an "
            "incomplete copy of one). Point Retriever.load at a folder written by Retriever.save."
        ) from err
    except (OSError, ValueError) as err:
        raise IndexFormatError(
            f"{str(path)!r} is not valid JSON ({err}); the index is corrupt. Save it again."
        ) from err
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise IndexFormatError(
            f"{str(path)!r} has format {found!r}, not {FORMAT_NAME!r}: it is a foreign file. "
            "Point Retriever.load at a folder written by Retriever.save."
        )
    version = record.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise IndexFormatError(f"{str(path)!r}: field 'format_version' is {version!r}, not >= 1.")
    if version > FORMAT_VERSION:
        raise IndexFormatError(
            f"{str(path)!r} has format_version {version}, written by a newer siamreid "
            f"({record.get('written_by')}); this one ({__version__}) reads up to "
            f"{FORMAT_VERSION}. Upgrade siamreid."
        )
    return record


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


def _verified(directory: Path, file: str, check: _MetaChecker) -> Path:
    path = directory / file
    if not path.is_file():
        raise IndexFormatError(f"{str(path)!r} is missing; the index is incomplete.")
    if _sha256(path) != check.sha256(file):
        raise IndexFormatError(
            f"{str(path)!r} does not match the sha256 recorded in {META_FILE}: the file is "
            "corrupt or was replaced. Restore it, or save the index again."
        )
    return path


def _read_tensors(
    directory: Path, check: _MetaChecker, count: int, dim: int
) -> dict[str, torch.Tensor]:
    path = _verified(directory, EMBEDDINGS_FILE, check)
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


def _read_paths(directory: Path, check: _MetaChecker, count: int) -> list[str]:
    path = _verified(directory, PATHS_FILE, check)
    try:
        paths = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"{str(path)!r} is not valid JSON ({err}).") from err
    if not isinstance(paths, list) or len(paths) != count:
        raise IndexFormatError(f"{str(path)!r} must be a list of {count} paths.")
    if not all(isinstance(p, str) for p in paths):
        raise IndexFormatError(f"{str(path)!r} must hold strings only.")
    return paths


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
