"""The index bundle's layout on disk: file names, format versions 1 and 2, stored paths.

The one owner of where a bundle's files lie (see :mod:`siamreid.retrieval.bundle.storage` for what
they hold): format_version 2 keeps the data files in the ``v-XXXXXXXX`` folder that
``meta.json`` names; format_version 1 (siamreid 0.1) kept them at the top level. Gallery paths
are stored relative to the bundle folder; read back, only those inside it may be opened
without the user's leave (:func:`opens_inside`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from siamreid._paths import lies_inside

__all__ = [
    "EMBEDDINGS_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "META_FILE",
    "MODEL_FOLDER",
    "NAMES_FILE",
    "PATHS_FILE",
    "VERSION_PREFIX",
    "BundleVersion",
    "current_version",
    "opens_inside",
    "resolved_path",
    "sha256",
    "stored_path",
]

FORMAT_NAME = "siamreid-index"
FORMAT_VERSION = 2
EMBEDDINGS_FILE = "embeddings.safetensors"
PATHS_FILE = "paths.json"
NAMES_FILE = "names.json"
MODEL_FOLDER = "model"
META_FILE = "meta.json"
VERSION_PREFIX = "v-"


@dataclass(frozen=True)
class BundleVersion:
    """The data folder the bundle's record points at now, and its model copy.

    Attributes:
        folder: The version folder (format 2), or the bundle folder itself (format 1).
        version: The record's format_version.
        model: The model copy's folder, when there is one.
        digest: The weights digest of the model the embeddings came from, when recorded.
    """

    folder: Path
    version: int
    model: Path | None
    digest: str | None


def current_version(directory: Path) -> BundleVersion | None:
    """What ``directory/meta.json`` points at, or ``None`` when it is no bundle record.

    Lenient on purpose: saving uses it to find what to replace, and a record it cannot read is
    treated as no record (reading validates every field instead).
    """
    try:
        rec = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT_NAME:
        return None
    if rec.get("format_version") == 1:
        model = directory / MODEL_FOLDER
        return BundleVersion(directory, 1, model if model.is_dir() else None, None)
    name = rec.get("version")
    if not isinstance(name, str) or not name.startswith(VERSION_PREFIX):
        return None
    folder = directory / name
    model = folder / MODEL_FOLDER
    digest = rec.get("embedder_digest")
    return BundleVersion(folder, 2, model if model.is_dir() else None, digest)


def _is_local(path: str) -> bool:
    return "://" not in path and path != ""


def stored_path(path: str, bundle: Path) -> str:
    """Local paths are stored relative to the bundle, so that the two can move together."""
    if not _is_local(path):
        return path
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(bundle))).as_posix()


def resolved_path(stored: str, bundle: Path) -> str:
    """The path a stored one stands for, for the bundle at ``bundle`` (the inverse of
    :func:`stored_path`)."""
    if not _is_local(stored) or os.path.isabs(stored):
        return stored
    return os.path.normpath(os.path.join(bundle, stored))


def opens_inside(path: str, bundle: Path) -> bool:
    """Whether a gallery path read from the bundle at ``bundle`` lies inside its folder (links
    followed), so that it may be opened without the user's leave.

    ``paths.json`` is data anyone can rewrite (and re-sign): a path that leaves the bundle
    (absolute, ``..``, a link out, a URL) is shown but opened only when the user allows it
    (``allow_outside_paths=``, ``--allow-outside-paths``).
    """
    return _is_local(path) and lies_inside(path, bundle)


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
