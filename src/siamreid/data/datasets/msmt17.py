"""The MSMT17 adapter: both releases, read through their list files.

MSMT17 (Wei et al., CVPR 2018) ships as ``MSMT17_V1/`` (``train/``, ``test/``) or, with faces
masked, ``MSMT17_V2/`` (``mask_train_v2/``, ``mask_test_v2/``). Each release folder holds four
lists, ``list_train.txt``, ``list_val.txt``, ``list_query.txt`` and ``list_gallery.txt``, with
lines such as ``0000/0000_000_01_0303morning_0015_0.jpg 0``: an image path relative to the train
(train and val lists) or test folder (query and gallery lists), then its identity label. The file
name reads: person 0, image 0 of that person, camera 1 (of 15), day ``0303`` in the morning, then
two more numbers that re-id does not use.

Only listed files are read: images on disk that no list names are not used. Train is
``list_train`` + ``list_val`` (their labels share one space: val is a held-out part of the 1,041
training identities), which is the 32,621-image training set papers and torchreid report.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import ClassVar

from siamreid._paths import resolve_inside
from siamreid.data.datasets._market_style import relabel
from siamreid.data.datasets.published import PublishedCounts, SplitCounts, with_count_notes
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import DatasetLayoutError, InputError

__all__ = ["MSMT17", "MSMT17_RELEASES", "format_msmt17_name", "parse_msmt17_name"]

MSMT17_RELEASES: dict[str, tuple[str, str]] = {
    "MSMT17_V1": ("train", "test"),
    "MSMT17_V2": ("mask_train_v2", "mask_test_v2"),
}
"""Release folder -> (train image folder, test image folder), in the order they are looked for."""

_LISTS = ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt")
_NUM_CAMERAS = 15
_MAX_MISSING_SHOWN = 3
_SOURCE = (
    "MSMT17 is distributed by its authors on request (Wei et al., CVPR 2018; see "
    "https://www.pkuvmc.com/dataset.html). Unzip it so that `root` is MSMT17_V1/ or MSMT17_V2/, "
    "or holds one of them, with the four list_*.txt files next to the image folders."
)
_NAME = re.compile(
    r"(\d{4})_(\d+)_(\d{2})_([0-9A-Za-z]+)_(\d+)_(\d+)\.(?:jpe?g|png)", re.IGNORECASE | re.ASCII
)


def parse_msmt17_name(name: str) -> tuple[int, int]:
    """The ``(pid, camid)`` of an MSMT17 file name; ``camid`` is 0-based (camera ``01`` is 0).

    Raises:
        DatasetLayoutError: ``name`` does not follow ``PPPP_III_CC_DDDDtime_FFFF_B.jpg`` with a
            camera from 01 to 15.

    Example:
        >>> parse_msmt17_name("0000_000_01_0303morning_0015_0.jpg")
        (0, 0)
    """
    match = _NAME.fullmatch(name)
    if match is None or not 1 <= int(match.group(3)) <= _NUM_CAMERAS:
        raise DatasetLayoutError(
            f"File name {name!r} is not an MSMT17 name; expected PPPP_III_CC_DDDDtime_FFFF_B.jpg "
            "(e.g. 0000_000_01_0303morning_0015_0.jpg: person 0, camera CC from 01 to 15). Fix "
            "the list file or re-extract the archive."
        )
    return int(match.group(1)), int(match.group(3)) - 1


def format_msmt17_name(
    pid: int,
    camid: int,
    *,
    index: int = 0,
    day: str = "0303morning",
    frame: int = 0,
    box: int = 0,
) -> str:
    """The MSMT17 file name of person ``pid`` seen by 0-based camera ``camid``.

    Raises:
        ValueError: A field does not fit the format (pid 0..9999, camid 0..14, index, frame and
            box >= 0, day alphanumeric).

    Example:
        >>> format_msmt17_name(0, 0, frame=15)
        '0000_000_01_0303morning_0015_0.jpg'
    """
    checks = {"pid": (pid, 0, 9999), "camid": (camid, 0, _NUM_CAMERAS - 1)}
    checks |= {"index": (index, 0, 10**9), "frame": (frame, 0, 10**9), "box": (box, 0, 10**9)}
    for field_name, (value, low, high) in checks.items():
        if not low <= value <= high:
            raise InputError(f"{field_name} must be in {low}..{high}, got {value}.")
    if not re.fullmatch(r"[0-9A-Za-z]+", day):
        raise InputError(f"day must be letters and digits (e.g. '0303morning'), got {day!r}.")
    return f"{pid:04d}_{index:03d}_{camid + 1:02d}_{day}_{frame:04d}_{box}.jpg"


class MSMT17:
    """Reads MSMT17 (``MSMT17_V1`` or ``MSMT17_V2``) into :class:`~siamreid.data.ReidSplits`.

    Args:
        root: A release folder (``MSMT17_V1`` or ``MSMT17_V2``), or the folder that contains it.
            When it contains both, ``MSMT17_V1`` is read and the summary says so.

    Attributes:
        published: The counts a complete copy loads to (train = list_train + list_val).

    Example:
        >>> splits = MSMT17("data/msmt17").load()  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """

    name = "MSMT17"
    published: ClassVar[PublishedCounts] = PublishedCounts(
        train=SplitCounts(1_041, 32_621),
        query=SplitCounts(3_060, 11_659),
        gallery=SplitCounts(3_060, 82_161),
        source="MSMT17",
    )

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def release(self) -> tuple[Path, str]:
        """The release folder and its name (a key of :data:`MSMT17_RELEASES`).

        Raises:
            DatasetLayoutError: ``root`` does not exist, or neither it nor a release folder in it
                holds a release's train image folder.
        """
        for candidate in (self.root, *(self.root / release for release in MSMT17_RELEASES)):
            for release, (train_dir, _) in MSMT17_RELEASES.items():
                if (candidate / train_dir).is_dir():
                    return candidate, release
        if not self.root.is_dir():
            raise DatasetLayoutError(f"MSMT17 root {str(self.root)!r} does not exist. {_SOURCE}")
        expected = " or ".join(
            f"{release}/{{{train},{test}}}/" for release, (train, test) in MSMT17_RELEASES.items()
        )
        raise DatasetLayoutError(
            f"No MSMT17 release under {str(self.root)!r}: expected {expected} with "
            f"{', '.join(_LISTS)}, there or as `root` itself. {_SOURCE}"
        )

    def load(self) -> ReidSplits:
        """Read the four lists of the release.

        Returns:
            Splits named ``"MSMT17"``: train (list_train + list_val) labels relabelled
            ``0..N-1``; query and gallery with their listed labels; cameras ``0..14``; notes for
            counts that differ from :attr:`published` and for a second release left unread.

        Raises:
            DatasetLayoutError: An image folder or list file is missing, a list is empty, a line
                does not read as ``path label``, a listed path is absolute or climbs out of its
                image folder with ``..``, a listed name does not parse, or listed images are
                missing on disk (the first few are named).
        """
        base, release = self.release()
        train_dir, test_dir = (base / folder for folder in MSMT17_RELEASES[release])
        for folder in (train_dir, test_dir):
            if not folder.is_dir():
                raise DatasetLayoutError(
                    f"MSMT17 image folder {str(folder)!r} is missing; {release} holds "
                    f"{'/ and '.join(MSMT17_RELEASES[release])}/. {_SOURCE}"
                )
        train, val, query, gallery = (
            _read_list(base / list_name, train_dir if i < 2 else test_dir)
            for i, list_name in enumerate(_LISTS)
        )
        notes: tuple[str, ...] = ()
        others = [r for r in MSMT17_RELEASES if r != release and (self.root / r).is_dir()]
        if base != self.root and others:
            notes = (
                f"{release} read; {', '.join(others)} also found under {str(self.root)!r} "
                "(give its folder as root to read it).",
            )
        splits = ReidSplits(
            train=relabel([*train, *val]), query=query, gallery=gallery, name=self.name, notes=notes
        )
        return with_count_notes(splits, self.published)


def _read_list(list_path: Path, image_dir: Path) -> list[ReidSample]:
    """The samples a list file names, with images under ``image_dir``."""
    if not list_path.is_file():
        raise DatasetLayoutError(
            f"MSMT17 list file {str(list_path)!r} is missing; a release folder holds "
            f"{', '.join(_LISTS)}. {_SOURCE}"
        )
    samples, missing = [], []
    lines = list_path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not (fields[1].isascii() and fields[1].isdigit()):
            raise DatasetLayoutError(
                f"Line {number} of {str(list_path)!r} reads {line!r}; expected an image path and "
                "an identity label, e.g. '0000/0000_000_01_0303morning_0015_0.jpg 0'. "
                "Re-extract the archive."
            )
        try:
            _, camid = parse_msmt17_name(PurePosixPath(fields[0]).name)
        except DatasetLayoutError as err:
            raise DatasetLayoutError(f"Line {number} of {str(list_path)!r}: {err}") from None
        path = resolve_inside(
            image_dir,
            fields[0],
            where=f"Line {number} of {str(list_path)!r}",
            fix=f"List entries are relative to {image_dir.name}/ (e.g. "
            "'0000/0000_000_01_0303morning_0015_0.jpg'); fix the line or re-extract the archive.",
        )
        if not path.is_file():
            missing.append(path)
        samples.append(ReidSample(path, int(fields[1]), camid))
    if missing:
        shown = ", ".join(repr(str(p)) for p in missing[:_MAX_MISSING_SHOWN])
        raise DatasetLayoutError(
            f"{len(missing)} of the {len(samples)} images listed in {str(list_path)!r} are "
            f"missing on disk (first: {shown}). The download or extraction is incomplete. "
            f"{_SOURCE}"
        )
    if not samples:
        raise DatasetLayoutError(
            f"MSMT17 list file {str(list_path)!r} lists no image. Re-extract the archive. {_SOURCE}"
        )
    return samples
