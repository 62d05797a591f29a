"""How an index bundle changes safely: what a save replaces and clears, what a reader retries.

A save (in :func:`siamreid.retrieval.bundle.storage.write_index`) writes a new version folder, then
replaces ``meta.json`` atomically (the commit point), then deletes the previous version. This
module owns the steps around that commit point: refusing a folder that is not a bundle,
clearing what a killed save left, removing the replaced version, and letting a reader that
raced a save read again. Files the bundle does not own (anything but ``meta.json``, ``v-*``
folders, the lock and ``.*.tmp-*`` leftovers of killed saves) are never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from siamreid._io import LOCK_FILE, TEMP_MARK
from siamreid.errors import CheckpointError, IndexFormatError
from siamreid.retrieval.bundle.layout import (
    EMBEDDINGS_FILE,
    FORMAT_NAME,
    META_FILE,
    NAMES_FILE,
    PATHS_FILE,
    VERSION_PREFIX,
    BundleVersion,
    current_version,
)

__all__ = [
    "READ_ATTEMPTS",
    "read_consistently",
    "refuse_foreign_target",
    "remove_previous",
    "remove_unreferenced_versions",
]

READ_ATTEMPTS = 5
"""Reads of a bundle before a failure is reported although ``meta.json`` kept changing."""

T = TypeVar("T")


def refuse_foreign_target(directory: Path) -> None:
    """Raise :class:`IndexFormatError` unless ``directory`` may receive a bundle.

    It may when it does not exist, holds only what a killed first save left, or is a bundle.
    """
    if not directory.exists():
        return
    if not directory.is_dir():
        raise IndexFormatError(
            f"Cannot save an index to {str(directory)!r}: it is a file. Choose a folder."
        )
    if all(_ours(e) or e.name.startswith(VERSION_PREFIX) for e in directory.iterdir()):
        return  # empty, or only what a killed first save left
    if current_version(directory) is None:
        raise IndexFormatError(
            f"Refusing to save an index into {str(directory)!r}: it holds files but is not a "
            f"siamreid index (no {META_FILE} with format {FORMAT_NAME!r}). Save to a new or "
            "empty folder."
        )


def remove_previous(directory: Path, previous: BundleVersion | None) -> None:
    """Delete the version a save has just replaced (after the commit)."""
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


def remove_unreferenced_versions(directory: Path, keep: BundleVersion | None) -> None:
    """Delete version folders a killed save renamed into place but never committed."""
    for entry in directory.iterdir():
        is_version = entry.name.startswith(VERSION_PREFIX) and entry.is_dir()
        if is_version and not entry.is_symlink() and (keep is None or entry != keep.folder):
            shutil.rmtree(entry, ignore_errors=True)


def read_consistently(directory: Path, read_once: Callable[[], T]) -> T:
    """``read_once()``, again when it failed because a save committed meanwhile.

    Readers take no lock: one that finds files gone because a save replaced them reads
    ``meta.json`` again. A failure while ``meta.json`` stayed the same is the bundle's own and
    is raised at once.
    """
    for _ in range(READ_ATTEMPTS - 1):
        seen = _meta_bytes(directory)
        try:
            return read_once()
        except (IndexFormatError, CheckpointError):
            if _meta_bytes(directory) == seen:
                raise  # nothing was saved meanwhile: the bundle itself is at fault
    return read_once()


def _meta_bytes(directory: Path) -> bytes | None:
    try:
        return (directory / META_FILE).read_bytes()
    except OSError:
        return None


def _ours(entry: Path) -> bool:
    name = entry.name
    return name == LOCK_FILE or (name.startswith(".") and TEMP_MARK in name)
