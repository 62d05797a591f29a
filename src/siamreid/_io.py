"""Atomic writes, versioned JSON records and writer locks: the one copy every on-disk format uses.

Every file siamreid writes goes through :func:`atomic_write`: it is written under a temporary
name (``.NAME.tmp-XXXX``) beside the target, flushed, given the mode the user's umask asks for
(``mkstemp`` would leave it ``0600``) and renamed over the target, so a reader sees the old file
or the new one, never half of one. A process killed mid-write leaves only such a temporary file;
:func:`remove_stale_temps` clears them and is called by the next save that holds the folder's
:func:`writer_lock`.

Records (``config.json``, ``meta.json``, ``index.json``...) are JSON objects that start with
``format``, ``format_version`` and ``written_by``; :func:`read_record` checks all three and raises
the caller's error type naming the file, the field and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from siamreid._version import __version__
from siamreid.errors import SiamreidError

__all__ = [
    "LOCK_FILE",
    "TEMP_MARK",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "check_version",
    "file_mode",
    "fsync_dir",
    "read_record",
    "record",
    "remove_stale_temps",
    "temp_dir",
    "writer_lock",
]

TEMP_MARK = ".tmp-"
LOCK_FILE = ".siamreid.lock"


def file_mode(directory: bool = False) -> int:
    """The mode a new file (or folder) gets under the current umask, as ``open()`` would give."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk (best effort: not every platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file, which replaces ``path``.

    Args:
        path: The target file; its folder must exist.
        write: Called with the temporary file's path; it writes the content there.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (key order as given)."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def temp_dir(target: Path) -> Path:
    """A new empty folder beside ``target`` (``.NAME.tmp-XXXX``, mode from the umask)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{TEMP_MARK}", dir=target.parent))
    os.chmod(tmp, file_mode(directory=True))
    return tmp


def remove_stale_temps(folder: Path, *, prefix: str = ".") -> int:
    """Delete temporary files and folders that killed writes left in ``folder``.

    Call it while holding ``folder``'s :func:`writer_lock`, or with a ``prefix`` naming the
    temporaries of files only one writer writes: another writer's temporaries look the same.

    Args:
        folder: Where to look.
        prefix: Only temporaries whose name starts with it (``".config.json"``).

    Returns:
        How many entries were removed.
    """
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        if not entry.name.startswith(prefix) or not entry.name.startswith("."):
            continue
        if TEMP_MARK not in entry.name:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


@contextlib.contextmanager
def writer_lock(
    folder: Path, *, what: str, error: type[SiamreidError], wait: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if needed) while writing into it.

    A second process that tries to write the same folder gets ``error`` at once, naming the
    folder (or, with ``wait=True``, waits for the first to finish). The lock is the kernel's
    (``flock``), so a killed writer never leaves a stale lock behind. Readers take no lock.

    Args:
        folder: The folder written into.
        what: What the folder is, for the message (``"index"``, ``"run folder"``...).
        error: The error type to raise.
        wait: Wait for the other writer instead of failing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; writers are not serialised there
        yield
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise error(
                f"Another process is writing the {what} {str(folder)!r} right now; wait for it "
                "to finish (or stop it), then try again."
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def record(format_name: str, format_version: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A versioned record: ``format``, ``format_version`` and ``written_by`` first, then
    ``fields`` in their order (so the bytes are the same for the same content)."""
    head = {
        "format": format_name,
        "format_version": format_version,
        "written_by": f"siamreid {__version__}",
    }
    return {**head, **fields}


def read_record(
    path: Path,
    *,
    format_name: str,
    max_version: int,
    error: type[SiamreidError],
    hint: str,
) -> dict[str, Any]:
    """Read a versioned JSON record, checking ``format`` and ``format_version``.

    Args:
        path: The record file.
        format_name: The expected ``format`` value.
        max_version: The newest ``format_version`` this siamreid reads.
        error: The error type to raise.
        hint: What to do when the file is missing or foreign (appended to the message).

    Raises:
        SiamreidError: (of type ``error``) the file is missing, not JSON, foreign, or newer.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{str(path)!r} is missing. {hint}") from None
    except (OSError, ValueError) as err:
        raise error(f"{str(path)!r} is not valid JSON ({err}); the file is corrupt.") from err
    if not isinstance(data, dict) or data.get("format") != format_name:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise error(
            f"{str(path)!r} has format {found!r}, not {format_name!r} (field 'format'). {hint}"
        )
    check_version(data, path, max_version=max_version, error=error)
    return data


def check_version(
    data: dict[str, Any],
    path: Path,
    *,
    max_version: int,
    error: type[SiamreidError],
    required: bool = True,
) -> int:
    """The ``format_version`` of a record, refused when missing, mistyped or newer than this
    siamreid reads (the one version check of every on-disk format).

    Args:
        data: The record.
        path: Its file, for the message.
        max_version: The newest version this siamreid reads.
        error: The error type to raise.
        required: Without it, a missing field reads as version 0 (records older than the field).
    """
    version = data.get("format_version", None if required else 0)
    minimum = 1 if required else 0
    if isinstance(version, bool) or not isinstance(version, int) or version < minimum:
        raise error(
            f"{str(path)!r}: field 'format_version' is {version!r}, not an integer >= {minimum}."
        )
    if version > max_version:
        raise error(
            f"{str(path)!r} has format_version {version}, written by a newer siamreid "
            f"({data.get('written_by', 'unknown')}); this one ({__version__}) reads up to "
            f"{max_version}. Upgrade siamreid."
        )
    return version
