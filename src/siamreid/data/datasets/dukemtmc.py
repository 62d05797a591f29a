"""The DukeMTMC-reID adapter: Market-style folders with 8 cameras and frame-numbered names.

DukeMTMC-reID (Zheng et al., ICCV 2017, cut from Ristani et al.'s DukeMTMC, ECCVW 2016) ships as
``DukeMTMC-reID/`` holding ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``. A file
name such as ``0001_c2_f0046182.jpg`` reads: person 1, camera 2 (of 8), frame 46182. There is no
junk; the gallery holds 408 distractor identities with their own pids, which is why it has 1,110
identities to the query's 702.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

from siamreid.data.datasets._market_style import locate, read_market_style
from siamreid.data.datasets.published import PublishedCounts, SplitCounts, with_count_notes
from siamreid.data.samples import ReidSplits
from siamreid.errors import DatasetLayoutError, InputError

__all__ = [
    "DUKEMTMC_FOLDER",
    "DukeMTMCReID",
    "format_dukemtmc_name",
    "parse_dukemtmc_name",
]

DUKEMTMC_FOLDER = "DukeMTMC-reID"
_SOURCE = (
    "DukeMTMC-reID was released by Zheng et al. (ICCV 2017, "
    "https://github.com/layumi/DukeMTMC-reID_evaluation); Duke University withdrew the underlying "
    "DukeMTMC data in 2019, so use a copy you are permitted to hold. Unzip it so that `root` holds "
    f"{DUKEMTMC_FOLDER}/ or its three split folders."
)
_NAME = re.compile(r"(\d{4})_c([1-8])_f(\d{7})\.(?:jpe?g|png)", re.IGNORECASE | re.ASCII)


def parse_dukemtmc_name(name: str) -> tuple[int, int]:
    """The ``(pid, camid)`` of a DukeMTMC-reID file name; ``camid`` is 0-based (``c1`` is 0).

    Raises:
        DatasetLayoutError: ``name`` does not follow ``PPPP_cC_fFFFFFFF.jpg``.

    Example:
        >>> parse_dukemtmc_name("0001_c2_f0046182.jpg")
        (1, 1)
    """
    match = _NAME.fullmatch(name)
    if match is None:
        raise DatasetLayoutError(
            f"File name {name!r} is not a DukeMTMC-reID name; expected PPPP_cC_fFFFFFFF.jpg "
            "(e.g. 0001_c2_f0046182.jpg: person 1, camera 2 of 8, frame 46182). Remove or rename "
            "the file, or read your own layout with ImageFolderReid."
        )
    return int(match.group(1)), int(match.group(2)) - 1


def format_dukemtmc_name(pid: int, camid: int, *, frame: int = 0) -> str:
    """The DukeMTMC-reID file name of person ``pid`` seen by 0-based camera ``camid``.

    Raises:
        ValueError: A field does not fit the format (pid 0..9999, camid 0..7, frame
            0..9999999).

    Example:
        >>> format_dukemtmc_name(1, 1, frame=46182)
        '0001_c2_f0046182.jpg'
    """
    checks = {"pid": (pid, 0, 9999), "camid": (camid, 0, 7), "frame": (frame, 0, 9_999_999)}
    for field_name, (value, low, high) in checks.items():
        if not low <= value <= high:
            raise InputError(f"{field_name} must be in {low}..{high}, got {value}.")
    return f"{pid:04d}_c{camid + 1}_f{frame:07d}.jpg"


class DukeMTMCReID:
    """Reads the DukeMTMC-reID layout into :class:`~siamreid.data.ReidSplits`.

    Args:
        root: The ``DukeMTMC-reID`` folder, or the folder that contains it.

    Attributes:
        published: The counts a complete copy loads to (as torchreid reports them).

    Example:
        >>> splits = DukeMTMCReID("data/dukemtmc").load()  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """

    name = "DukeMTMCReID"
    published: ClassVar[PublishedCounts] = PublishedCounts(
        train=SplitCounts(702, 16_522),
        query=SplitCounts(702, 2_228),
        gallery=SplitCounts(1_110, 17_661),
        source="DukeMTMC-reID",
    )

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def dataset_dir(self) -> Path:
        """The folder holding the three split folders.

        Raises:
            DatasetLayoutError: Neither ``root`` nor ``root/DukeMTMC-reID`` holds them.
        """
        return locate(self.root, (DUKEMTMC_FOLDER,), dataset="DukeMTMC-reID", source=_SOURCE)

    def load(self) -> ReidSplits:
        """Read the three splits (sorted by file name).

        Returns:
            Splits named ``"DukeMTMCReID"``: train pids relabelled ``0..N-1``; query and gallery
            with their original pids; cameras ``0..7``; a note for each split whose counts
            differ from :attr:`published`.

        Raises:
            DatasetLayoutError: A split folder is missing or has no image, or a file name does
                not parse.
        """
        splits = read_market_style(
            self.dataset_dir,
            parse_dukemtmc_name,
            name=self.name,
            dataset="DukeMTMC-reID",
            source=_SOURCE,
        )
        return with_count_notes(splits, self.published)
