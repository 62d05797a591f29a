"""Which dataset a folder holds, from its layout alone: the probes of :func:`detect_dataset`.

Each probe answers for one registered name and reads folder entries and at most one file name
per split folder, never an image. A folder is the dataset's own (``Market-1501-v15.09.15/``) or
the one that holds it, as the adapters accept. Market-1501 and DukeMTMC-reID share a layout;
a bare split-folder tree is told apart by its file names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from siamreid.data.datasets._market_style import SPLIT_FOLDERS
from siamreid.data.datasets.published import is_synthetic
from siamreid.data.images import IMAGE_SUFFIXES
from siamreid.errors import DatasetLayoutError

__all__ = [
    "is_cuhk03np",
    "is_dukemtmcreid",
    "is_market1501",
    "is_mot",
    "is_msmt17",
    "is_synthetic_market",
]

_Parse = Callable[[str], object]


def _first_image(folder: Path) -> str | None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                return entry.name
    return None


def _names_parse(folder: Path, parse: _Parse) -> bool:
    """Whether ``folder`` holds the split folders and its first training image's name parses."""
    train = folder / SPLIT_FOLDERS[0]
    if not train.is_dir():
        return False
    name = _first_image(train)
    if name is None:
        return False
    try:
        parse(name)
    except DatasetLayoutError:
        return False
    return True


def _market_style(root: Path, dataset_folder: str, parse: _Parse) -> Path | None:
    """The dataset folder under ``root`` (or ``root`` itself) whose file names ``parse`` reads."""
    for folder in (root / dataset_folder, root):
        if _names_parse(folder, parse):
            return folder
    return None


def is_market1501(root: Path) -> bool:
    """A Market-1501 tree that the synthetic generator did not write."""
    from siamreid.data.datasets.market1501 import MARKET1501_FOLDER, parse_market1501_name

    folder = _market_style(root, MARKET1501_FOLDER, parse_market1501_name)
    return folder is not None and not is_synthetic(folder)


def is_synthetic_market(root: Path) -> bool:
    """A tree written by :func:`~siamreid.data.make_synthetic_market` (its manifest says so)."""
    from siamreid.data.datasets.market1501 import MARKET1501_FOLDER, parse_market1501_name

    folder = _market_style(root, MARKET1501_FOLDER, parse_market1501_name)
    return folder is not None and is_synthetic(folder)


def is_dukemtmcreid(root: Path) -> bool:
    """A DukeMTMC-reID tree."""
    from siamreid.data.datasets.dukemtmc import DUKEMTMC_FOLDER, parse_dukemtmc_name

    return _market_style(root, DUKEMTMC_FOLDER, parse_dukemtmc_name) is not None


def is_cuhk03np(variant: str) -> Callable[[Path], bool]:
    """The probe of one CUHK03-NP variant (``labeled`` or ``detected``)."""

    def probe(root: Path) -> bool:
        from siamreid.data.datasets.cuhk03np import CUHK03NP_FOLDER, parse_cuhk03np_name

        folders = [root / CUHK03NP_FOLDER / variant, root / variant]
        if root.name == variant:
            folders.append(root)
        return any(_names_parse(f, parse_cuhk03np_name) for f in folders)

    return probe


def is_msmt17(root: Path) -> bool:
    """An MSMT17 release (V1 or V2) folder with its list files, or the folder holding one."""
    from siamreid.data.datasets.msmt17 import MSMT17

    try:
        folder, _ = MSMT17(root).release()
    except DatasetLayoutError:
        return False
    return (folder / "list_train.txt").is_file()  # MOT's train/ is no MSMT17 release


def is_mot(root: Path) -> bool:
    """MOTChallenge-format sequences (a download, the folder holding it, or the sequences)."""
    from siamreid.data.datasets._mot_layout import sequence_folders

    try:
        sequence_folders(root, "")
    except DatasetLayoutError:
        return False
    return True
