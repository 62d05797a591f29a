"""Atomic writes, versioned JSON records and writer locks: the one copy every on-disk format uses.

Every file siamreid writes goes through :func:`atomic_write`: it is written under a temporary
name (``.NAME.tmp-XXXX``) beside the target, flushed, given the mode the user's umask asks for
(``mkstemp`` would leave it ``0600``) and renamed over the target, so a reader sees the old file
or the new one, never half of one. A process killed mid-write leaves only such a temporary file;
:func:`remove_stale_temps` clears them and is called by the next save that holds the folder's
:func:`writer_lock`. A write that fails (a full disk, ``ulimit -f``) raises an ``OSError`` naming
the target and leaves the old file whole; :func:`check_output` refuses, before any work, an
output that could not be written (a folder where a file is expected, a read-only parent).

Records (``config.json``, ``meta.json``, ``index.json``...) are JSON objects that start with
``format``, ``format_version`` and ``written_by``; :func:`read_record` checks all three and raises
the caller's error type naming the file, the field and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from siamreid._version import __version__
from siamreid.errors import InputError, SiamreidError

__all__ = [
    "LOCK_FILE",
    "TEMP_MARK",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_stream",
    "atomic_write_text",
    "check_output",
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


def _temp_beside(target: Path) -> Path:
    """An empty temporary file beside ``target`` (its folder created), named to be cleaned up."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}{TEMP_MARK}", suffix=target.suffix, dir=target.parent
        )
    except OSError as err:
        raise _write_error(target, err) from err
    os.close(fd)
    return Path(name)


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[Path], object],
    *,
    check: Callable[[Path], object] | None = None,
    durable: bool = True,
) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file, which replaces ``path``.

    The temporary file keeps the target's suffix (``.reid.onnx.tmp-XXXX.onnx``), so writers
    that pick a format by the name (Pillow, matplotlib, ``np.savez``) write the right one.
    Nothing replaces ``path`` until ``write`` and ``check`` have both returned: a failure, a
    full disk or a kill leaves the old file whole.

    Args:
        path: The target file; its folder is created if needed.
        write: Called with the temporary file's path; it writes the content there.
        check: Called with the finished temporary file before the rename; it raises to keep
            the old file (an ONNX file is read back and checked here).
        durable: Flush the file to disk before the rename (off for files inside a folder that
            is itself published atomically, such as a dataset being generated).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: The file cannot be written (a full disk, a size limit): the message names
            ``path`` and says the old file is unchanged.
    """
    target = Path(path)
    tmp = _temp_beside(target)
    try:
        write(tmp)
        if durable:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        if check is not None:
            check(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, SiamreidError):
            raise _write_error(target, err) from err
        raise
    if durable:
        fsync_dir(target.parent)
    return target


def _write_error(target: Path, err: OSError) -> OSError:
    """An OSError of the same errno (so the same subclass: ``PermissionError``...) whose
    one-line message names ``target``."""
    kept = "; the file there is unchanged" if target.exists() else ""
    reason = err.strerror or str(err)
    message = f"Cannot write {str(target)!r}: {reason}{kept}. {_fix(err)}"
    return OSError(message) if err.errno is None else OSError(err.errno, message)


def _fix(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "Free some disk space (or raise the file size limit), or write somewhere else."
    return "Check the folder's permissions, or write somewhere else."


def atomic_write_stream(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], object],
    *,
    check: Callable[[Path], object] | None = None,
    durable: bool = True,
) -> Path:
    """:func:`atomic_write` for writers that take an open binary file (``write(fh)``)."""

    def fill(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            write(fh)

    return atomic_write(path, fill, check=check, durable=durable)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), durable=durable)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (key order as given)."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def check_output(
    path: str | os.PathLike[str],
    *,
    what: str,
    folder: bool = False,
    error: type[SiamreidError] = InputError,
) -> Path:
    """Refuse, before any work, an output that cannot be written; returns it as a Path.

    A file output must not be a folder or a special file (a device, a fifo: the atomic rename
    would replace it); a folder output must not be a file. The nearest existing parent must be
    a folder where a file can be created (tried: a temporary file is made and removed), so a
    read-only or full file system is named now, not after minutes of work.

    Args:
        path: The output the user named.
        what: How the message names it (``"--out"``, ``"ONNX path"``).
        folder: The output is a folder, not a file.
        error: The error type to raise.

    Raises:
        SiamreidError: (of type ``error``) naming ``path``, what is wrong and the fix.
    """
    out = Path(path)
    if folder and out.exists() and not out.is_dir():
        raise error(f"{what} {str(out)!r} is a file, not a folder; name a folder to write into.")
    if not folder and out.is_dir():
        raise error(f"{what} {str(out)!r} is a folder; pass a file name inside it instead.")
    if not folder and out.exists() and not out.is_file():
        raise error(f"{what} {str(out)!r} is not a regular file (a device or a fifo); name a file.")
    parent = out.parent if not folder else out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise error(f"{what} {str(out)!r}: {str(parent)!r} is a file, not a folder.")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}{TEMP_MARK}probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise error(
            f"{what} {str(out)!r} cannot be written: {err.strerror or err} in "
            f"{str(parent)!r}. {_fix(err)}"
        ) from err
    return out


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
