"""Who is in an image, read from its path: the identity-labelling rule for image folders.

Ids come from Market-1501 file names (``0002_c1s1_000451_03.jpg``: person 2, camera 1; junk
``-1_...`` files are dropped), else from the first sub-folder under the root
(``root/<person>/image.jpg``): numeric folder names are the ids; other names are numbered in
sorted order, or looked up in a given ``{id: name}`` table (-1 when absent). ``siamreid index
build`` and ``siamreid search`` label their images with this rule.

A gallery may mix both sources (Market-1501 names and person folders). Numbered folder names
then start after the largest id a file name gives, so "bob" never becomes person 0001; an id
that both sources give (a folder ``0001/`` and a file ``0001_c1s1_...jpg`` elsewhere) is
refused, naming one file of each: nothing says they are the same person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from siamreid.data.datasets.market1501 import parse_market1501_name
from siamreid.errors import DatasetLayoutError

__all__ = ["Identities", "identities"]


@dataclass(frozen=True)
class Identities:
    """Identities read from image paths.

    Attributes:
        paths: The images kept (Market-1501 junk, ``-1_...``, is dropped).
        ids: One integer id per kept image.
        camids: One 0-based camera per image, or ``None`` unless every name has a camera.
        names: Folder name of each id, when ids come from non-numeric folder names.
        skipped: Junk images dropped.
    """

    paths: list[Path]
    ids: list[int]
    camids: list[int] | None
    names: dict[int, str] | None
    skipped: int


def identities(
    paths: Sequence[Path], root: Path, names: dict[int, str] | None = None
) -> Identities:
    """Ids from Market-1501 file names (``0002_c1s1_000451_03.jpg``), else from the first
    sub-folder under ``root`` (``root/<id>/image.jpg``): numeric folder names are the ids;
    others are looked up in ``names`` (-1 when absent), or without ``names`` numbered in
    sorted order."""
    parsed: list[tuple[Path, int | str, int | None]] = []
    skipped = 0
    for path in paths:
        try:
            pid, camid = parse_market1501_name(path.name)
        except DatasetLayoutError:
            parsed.append((path, _folder_label(path, root), None))
            continue
        if pid == -1:
            skipped += 1
        else:
            parsed.append((path, pid, camid))
    labels = {label for _, label, _ in parsed if isinstance(label, str)}
    from_names = [label for _, label, _ in parsed if isinstance(label, int)]
    table = _label_ids(labels, names, start=max(from_names, default=-1) + 1)
    ids = [label if isinstance(label, int) else table[label] for _, label, _ in parsed]
    if names is None and from_names and labels:
        _refuse_shared_ids(parsed, ids)
    cams = [camid for _, _, camid in parsed]
    camids = None if any(c is None for c in cams) else [int(c) for c in cams if c is not None]
    named = None if names is not None or _all_numeric(labels) else {v: k for k, v in table.items()}
    return Identities([p for p, _, _ in parsed], ids, camids, named or names, skipped)


def _folder_label(path: Path, root: Path) -> str:
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        parts = ()
    if len(parts) < 2:
        raise DatasetLayoutError(
            f"Cannot tell whose image {str(path)!r} is: name it Market-1501 style "
            "(0002_c1s1_000451_03.jpg) or put it in a sub-folder named after the person "
            f"({root}/<id>/{path.name})."
        )
    return parts[0]


def _all_numeric(labels: set[str]) -> bool:
    return all(label.isdigit() for label in labels)


def _label_ids(labels: set[str], names: dict[int, str] | None, start: int) -> dict[str, int]:
    """Folder names to ids; names are numbered from ``start`` (after the file names' ids)."""
    if _all_numeric(labels):
        return {label: int(label) for label in labels}
    if names is not None:  # ids of an existing index; an unknown name gets -1
        by_name = {name: pid for pid, name in names.items()}
        return {label: by_name.get(label, -1) for label in labels}
    return {label: start + i for i, label in enumerate(sorted(labels))}


def _refuse_shared_ids(parsed: list[tuple[Path, int | str, int | None]], ids: list[int]) -> None:
    """Refuse an id given both by a Market-1501 file name and by a folder name."""
    by_file: dict[int, Path] = {}
    for (path, label, _), pid in zip(parsed, ids, strict=True):
        if isinstance(label, int):
            by_file.setdefault(pid, path)
    for (path, label, _), pid in zip(parsed, ids, strict=True):
        if isinstance(label, str) and pid in by_file:
            raise DatasetLayoutError(
                f"Two labelling rules give id {pid} to {str(by_file[pid])!r} (its Market-1501 "
                f"file name) and to {str(path)!r} (its folder {label!r}): nothing says they are "
                "the same person. Use one rule per gallery: rename the files Market-1501 style, "
                "or move every image into a folder named after its person."
            )
