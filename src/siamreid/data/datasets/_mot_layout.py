"""Where MOTChallenge sequences are under a root: the folder layouts :class:`MOTChallenge` reads.

A root is a download's folder (``MOT17/`` holding ``train/`` and ``test/``; DanceTrack's
``train/``, ``val/``, ``test/``), the folder that holds such a download (``data/`` holding
``MOT17/``, as every other adapter accepts the parent of its dataset folder), or a folder of
sequence folders. A sequence folder holds ``seqinfo.ini``, ``img1/`` and ``gt/``.
"""

from __future__ import annotations

from pathlib import Path

from siamreid.errors import DatasetLayoutError

__all__ = ["SPLIT_FOLDERS", "dataset_folder", "sequence_folders", "split_folder_of"]

SPLIT_FOLDERS = ("train", "val", "test")


def _has_split_folders(folder: Path) -> bool:
    return any((folder / s).is_dir() for s in SPLIT_FOLDERS)


def _is_sequence(folder: Path) -> bool:
    return folder.is_dir() and (
        (folder / "seqinfo.ini").is_file() or (folder / "img1").is_dir() or (folder / "gt").is_dir()
    )


def _subfolders(folder: Path) -> list[Path]:
    return [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]


def dataset_folder(root: Path, source: str) -> Path:
    """``root``, or the one folder in it that holds ``train/``/``val/``/``test/``.

    Raises:
        DatasetLayoutError: ``root`` does not exist, or holds several such folders (the message
            names them: give one as the root).
    """
    if not root.is_dir():
        raise DatasetLayoutError(f"MOTChallenge root {str(root)!r} does not exist. {source}")
    if _has_split_folders(root) or any(_is_sequence(d) for d in _subfolders(root)):
        return root
    inner = [d for d in _subfolders(root) if _has_split_folders(d)]
    if len(inner) > 1:
        names = ", ".join(f"{d.name}/" for d in inner)
        raise DatasetLayoutError(
            f"MOTChallenge root {str(root)!r} holds several datasets ({names}); give one of "
            f"them as the root, e.g. {str(inner[0])!r}."
        )
    return inner[0] if inner else root


def sequence_folders(root: Path, source: str) -> list[Path]:
    """The sequence folders under ``root`` (see the module docstring), sorted per split folder.

    Raises:
        DatasetLayoutError: ``root`` is missing, ambiguous or holds no sequence folder.
    """
    folder = dataset_folder(root, source)
    parents = [folder / s for s in SPLIT_FOLDERS if (folder / s).is_dir()] or [folder]
    found = [d for parent in parents for d in _subfolders(parent) if _is_sequence(d)]
    if not found:
        where = " or ".join(str(p) for p in parents)
        raise DatasetLayoutError(
            f"No MOTChallenge sequence folder (holding seqinfo.ini, img1/ and gt/gt.txt) in "
            f"{where!r}. {source}"
        )
    return found


def split_folder_of(sequence: Path) -> str | None:
    """``"train"``, ``"val"`` or ``"test"``: the download's split folder holding ``sequence``
    (``None`` for a sequence outside one)."""
    parent = sequence.parent.name
    return parent if parent in SPLIT_FOLDERS else None
