"""The Market-1501 adapter: folder layout, filename parsing, junk and distractor rules.

Market-1501 (Zheng et al., ICCV 2015) ships as ``Market-1501-v15.09.15/`` holding
``bounding_box_train/``, ``bounding_box_test/`` (the gallery) and ``query/``. A file name such as
``0002_c1s1_000451_03.jpg`` reads: person 2, camera 1, sequence 1, frame 451, detection box 3.
Person ``-1`` marks junk detections (dropped here, as in torchreid); person ``0000`` marks
distractors (kept in the gallery, where they can only ever be false matches).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

from siamreid.data.datasets._market_style import JUNK_PID, locate, read_market_style
from siamreid.data.datasets.published import PublishedCounts, SplitCounts, with_count_notes
from siamreid.data.samples import ReidSplits
from siamreid.errors import DatasetLayoutError, InputError

__all__ = [
    "MARKET1501_FOLDER",
    "Market1501",
    "format_market1501_name",
    "parse_market1501_name",
]

MARKET1501_FOLDER = "Market-1501-v15.09.15"
_SOURCE = (
    "Market-1501 is distributed by its authors (Zheng et al., ICCV 2015; see "
    "https://zheng-lab.cecs.anu.edu.au/Project/project_reid.html); unzip it so that `root` holds "
    f"{MARKET1501_FOLDER}/ or its three split folders. For an offline stand-in, write a synthetic "
    "copy with `siamreid synth --out DIR` (siamreid.data.make_synthetic_market)."
)
# pid: -1 (junk) or 4 digits; camera: one digit >= 1; then sequence, frame and box numbers.
_NAME = re.compile(
    r"(-1|\d{4})_c([1-9])s(\d+)_(\d{6})_(\d{2})\.(?:jpe?g|png|bmp|webp)", re.IGNORECASE
)


def parse_market1501_name(name: str) -> tuple[int, int]:
    """The ``(pid, camid)`` of a Market-1501 file name; ``camid`` is 0-based (``c1`` is 0).

    Raises:
        DatasetLayoutError: ``name`` does not follow ``PPPP_cCsS_FFFFFF_BB.jpg``.

    Example:
        >>> parse_market1501_name("0002_c1s1_000451_03.jpg")
        (2, 0)
    """
    match = _NAME.fullmatch(name)
    if match is None:
        raise DatasetLayoutError(
            f"File name {name!r} is not a Market-1501 name; expected PPPP_cCsS_FFFFFF_BB.jpg "
            "(e.g. 0002_c1s1_000451_03.jpg: person 2, camera 1, junk as -1_c...). Remove or "
            "rename the file, or read your own layout with ImageFolderReid."
        )
    return int(match.group(1)), int(match.group(2)) - 1


def format_market1501_name(
    pid: int, camid: int, *, sequence: int = 1, frame: int = 0, box: int = 1
) -> str:
    """The Market-1501 file name of person ``pid`` seen by 0-based camera ``camid``.

    Raises:
        ValueError: A field does not fit the format (pid -1..9999, camid 0..8, frame 0..999999,
            box 0..99, sequence >= 0).

    Example:
        >>> format_market1501_name(2, 0, frame=451, box=3)
        '0002_c1s1_000451_03.jpg'
    """
    if not (pid == JUNK_PID or 0 <= pid <= 9999):
        raise InputError(f"pid must be -1 (junk) or 0..9999, got {pid}.")
    checks = {"camid": (camid, 0, 8), "frame": (frame, 0, 999_999), "box": (box, 0, 99)}
    for field_name, (value, low, high) in checks.items():
        if not low <= value <= high:
            raise InputError(f"{field_name} must be in {low}..{high}, got {value}.")
    if sequence < 0:
        raise InputError(f"sequence must be >= 0, got {sequence}.")
    pid_text = "-1" if pid == JUNK_PID else f"{pid:04d}"
    return f"{pid_text}_c{camid + 1}s{sequence}_{frame:06d}_{box:02d}.jpg"


class Market1501:
    """Reads the real Market-1501 layout into :class:`~siamreid.data.ReidSplits`.

    Args:
        root: The ``Market-1501-v15.09.15`` folder, or the folder that contains it.

    Attributes:
        published: The counts a complete copy loads to. The paper's gallery of 19,732 images
            includes 3,819 junk images (pid ``-1``), which are dropped here as in torchreid; the
            2,793 distractor images (pid ``0``) stay and count as one identity, so the gallery
            loads to 751 ids / 15,913 images.

    Example:
        >>> splits = Market1501("data/market1501").load()  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """

    name = "Market1501"
    published: ClassVar[PublishedCounts] = PublishedCounts(
        train=SplitCounts(751, 12_936),
        query=SplitCounts(750, 3_368),
        gallery=SplitCounts(751, 15_913),
        source="Market-1501",
    )

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def dataset_dir(self) -> Path:
        """The folder holding the three split folders.

        Raises:
            DatasetLayoutError: Neither ``root`` nor ``root/Market-1501-v15.09.15`` holds them.
        """
        return locate(self.root, (MARKET1501_FOLDER,), dataset="Market-1501", source=_SOURCE)

    def load(self) -> ReidSplits:
        """Read the three splits (sorted by file name).

        Returns:
            Splits named ``"Market1501"``: train pids relabelled ``0..N-1``; query and gallery
            with their original pids; junk dropped; distractors (pid 0) in the gallery only; a
            note for each split whose counts differ from :attr:`published` (none for a
            synthetic copy, see :func:`~siamreid.data.datasets.published.is_synthetic`).

        Raises:
            DatasetLayoutError: A split folder is missing or has no usable image, or a file
                name does not parse.
        """
        folder = self.dataset_dir
        splits = read_market_style(
            folder, parse_market1501_name, name=self.name, dataset="Market-1501", source=_SOURCE
        )
        return with_count_notes(splits, self.published, folder)
