"""Path confinement: the one rule for names read from files, and for what siamreid may delete.

A path read from a file (an MSMT17 list line, a MOTChallenge ``seqinfo.ini`` ``imDir``, a
checkpoint folder's ``latest.json``, an index bundle's ``paths.json``) stands for a file inside
the folder it is relative to. :func:`resolve_inside` refuses one that is absolute or holds a
``..`` part (the two ways a name leaves its folder), naming where it was read and the fix; with
``links_may_leave=False`` it also refuses one that a symbolic link leads out of the folder.
:func:`lies_inside` is the same test as a yes/no for a path already joined.

:func:`foreign_entries` is the other half: before a folder is emptied (``train --overwrite``,
``synth --overwrite``), it lists what in it the writer does not own, so that siamreid deletes
only what it wrote. A run folder's writer knows its file names; a generator lists what it wrote
in a manifest (:func:`write_manifest`) and :func:`unowned_entries` compares the folder with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from siamreid._io import LOCK_FILE, TEMP_MARK, atomic_write_json, record
from siamreid.errors import DatasetLayoutError, SiamreidError

__all__ = [
    "MANIFEST",
    "escape_reason",
    "foreign_entries",
    "generator_of",
    "lies_inside",
    "refuse_unowned",
    "resolve_inside",
    "shown",
    "unowned_entries",
    "write_manifest",
]


def escape_reason(relative: str) -> str | None:
    """Why ``relative`` would leave the folder it is relative to, or ``None`` when it stays in.

    Lexical only: an absolute path (POSIX or Windows, with a drive), a ``..`` part, or nothing
    at all leaves it; symbolic links are not looked at.
    """
    if relative.strip() == "":
        return "is empty"
    windows = PureWindowsPath(relative)
    if PurePosixPath(relative).is_absolute() or windows.drive or windows.root:
        return "is an absolute path"
    if ".." in PurePosixPath(relative.replace("\\", "/")).parts:
        return "climbs out with '..'"
    return None


def lies_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies in ``root`` (or is it), both as written and with links followed."""
    plain, base = os.path.abspath(path), os.path.abspath(root)
    real, real_base = os.path.realpath(path), os.path.realpath(root)
    return _under(plain, base) and _under(real, real_base)


def _under(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def resolve_inside(
    root: Path,
    relative: str,
    *,
    where: str,
    fix: str,
    error: type[SiamreidError] = DatasetLayoutError,
    links_may_leave: bool = True,
) -> Path:
    """``root / relative``, refused when ``relative`` leaves ``root``.

    Args:
        root: The folder ``relative`` is relative to.
        relative: The name as read from the file.
        where: Where it was read, for the message (``"line 3 of '/data/list_train.txt'"``).
        fix: What to do about it, appended to the message.
        error: The error type to raise.
        links_may_leave: Whether a symbolic link inside ``root`` may lead out of it (a user's
            own dataset tree may link to another disk; a bundle or checkpoint folder may not).

    Raises:
        SiamreidError: (of type ``error``) ``relative`` is absolute, climbs out with ``..``, is
            empty, or (without ``links_may_leave``) a link takes it out of ``root``.
    """
    reason = escape_reason(relative)
    path = root / relative
    if reason is None and not links_may_leave and not lies_inside(path, root):
        reason = "leads out through a symbolic link"
    if reason is not None:
        raise error(
            f"{where}: {relative!r} {reason}; it must name a file inside {str(root)!r}. {fix}"
        )
    return path


def foreign_entries(folder: Path, owns: Callable[[PurePosixPath, bool], bool]) -> list[Path]:
    """What under ``folder`` its writer does not own, before the writer empties it.

    Args:
        folder: The folder about to be emptied.
        owns: Called with each entry's path relative to ``folder`` and whether it is a (real)
            folder; a folder it owns is walked, one it does not is listed whole. The writer lock
            and the temporaries of killed writes are always owned.

    Returns:
        The entries not owned, sorted (empty: everything may go).
    """
    foreign: list[Path] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        for entry in sorted(current.iterdir()):
            name = entry.name
            if name == LOCK_FILE or (name.startswith(".") and TEMP_MARK in name):
                continue
            is_dir = entry.is_dir() and not entry.is_symlink()
            if not owns(PurePosixPath(entry.relative_to(folder).as_posix()), is_dir):
                foreign.append(entry)
            elif is_dir:
                pending.append(entry)
    return sorted(foreign)


def shown(paths: list[Path], root: Path, limit: int = 4) -> str:
    """The first ``limit`` of ``paths`` relative to ``root``, for a message."""
    names = [
        p.relative_to(root).as_posix() + ("/" if p.is_dir() and not p.is_symlink() else "")
        for p in paths
    ]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if names[limit:] else "")


MANIFEST = ".siamreid-generated.json"
_MANIFEST_FORMAT, _MANIFEST_VERSION = "siamreid.generated", 1


def write_manifest(folder: Path, *, by: str) -> None:
    """List everything now under ``folder`` (files with their size) in its manifest.

    A generator calls it on its finished output, before renaming it into place, so that a later
    overwrite can tell what it wrote from the user's files (:func:`unowned_entries`).

    Args:
        folder: The generated folder.
        by: What wrote it (``"siamreid synth"``), kept in the manifest.
    """
    entries: dict[str, int] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_dir():
            entries[name + "/"] = -1
        else:
            entries[name] = path.stat().st_size
    fields = {"generator": by, "entries": entries}
    atomic_write_json(folder / MANIFEST, record(_MANIFEST_FORMAT, _MANIFEST_VERSION, fields))


def generator_of(folder: str | os.PathLike[str]) -> str | None:
    """What wrote ``folder`` by its manifest (the ``by`` of :func:`write_manifest`), or
    ``None`` when it has no readable manifest (a download, a user's folder)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        return str(data["generator"]) if data["format"] == _MANIFEST_FORMAT else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _manifest_entries(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        entries = data["entries"] if data["format"] == _MANIFEST_FORMAT else {}
        return dict(entries)
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def unowned_entries(folder: Path) -> list[Path]:
    """What under ``folder`` its manifest does not list, or lists with another size (all of it
    when there is no manifest); empty when the generator may replace the whole folder."""
    entries = _manifest_entries(folder)

    def owns(relative: PurePosixPath, is_dir: bool) -> bool:
        name = relative.as_posix()
        if name == MANIFEST:
            return bool(entries)
        if is_dir:
            return entries.get(name + "/") == -1
        path = folder / relative
        return not path.is_symlink() and entries.get(name) == path.stat().st_size

    return foreign_entries(folder, owns)


def refuse_unowned(folders: list[Path], *, by: str, error: type[SiamreidError]) -> None:
    """Refuse to replace ``folders`` when one holds entries its manifest does not list.

    Raises:
        SiamreidError: (of type ``error``) naming the first few entries ``by`` did not write
            (relative to the folders' parent).
    """
    foreign: list[Path] = []
    for folder in folders:
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            foreign.append(folder)
        elif folder.is_dir():
            foreign += unowned_entries(folder)
    if foreign:
        parent = folders[0].parent
        listed = shown(sorted(foreign), parent)
        raise error(
            f"{str(parent)!r} holds {len(foreign)} file(s) {by} did not write "
            f"({listed}); overwriting replaces only what {by} wrote, so nothing "
            "was changed. Move them out (or choose another folder) and try again."
        )
