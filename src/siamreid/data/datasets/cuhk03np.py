"""The CUHK03-NP adapter: the new-protocol split of CUHK03 in Market-style folders.

CUHK03 (Li et al., CVPR 2014) has hand-labelled and detector-cut boxes of 1,467 people seen by
two cameras of a pair. Zhong et al. (CVPR 2017) re-split it like Market-1501, 767 identities for
training and 700 for testing, and released it as ``cuhk03-np/{labeled,detected}/`` with
``bounding_box_train/``, ``query/`` and ``bounding_box_test/`` each. A file name such as
``0001_c1_1.png`` reads: person 1, camera 1 of the pair, image 1. There is no junk or distractor.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar, Literal, get_args

from siamreid.data.datasets._market_style import locate, read_market_style
from siamreid.data.datasets.published import PublishedCounts, SplitCounts, with_count_notes
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError, InputError

__all__ = [
    "CUHK03NP",
    "CUHK03NP_FOLDER",
    "CUHK03NPVariant",
    "format_cuhk03np_name",
    "parse_cuhk03np_name",
]

CUHK03NP_FOLDER = "cuhk03-np"
CUHK03NPVariant = Literal["labeled", "detected"]
_VARIANTS: tuple[str, ...] = get_args(CUHK03NPVariant)
_SOURCE = (
    "CUHK03-NP is the new protocol of Zhong et al. (CVPR 2017, "
    "https://github.com/zhunzhong07/person-re-ranking/tree/master/CUHK03-NP) over CUHK03 (Li et "
    "al., CVPR 2014, whose authors grant access on request). Unzip it so that `root` holds "
    f"{CUHK03NP_FOLDER}/labeled/ and {CUHK03NP_FOLDER}/detected/, or labeled/ and detected/."
)
_NAME = re.compile(r"(\d{4})_c([12])_(\d+)\.(?:png|jpe?g)", re.IGNORECASE | re.ASCII)


def parse_cuhk03np_name(name: str) -> tuple[int, int]:
    """The ``(pid, camid)`` of a CUHK03-NP file name; ``camid`` is 0-based (``c1`` is 0).

    Raises:
        DatasetLayoutError: ``name`` does not follow ``PPPP_cC_N.png`` (camera 1 or 2).

    Example:
        >>> parse_cuhk03np_name("0001_c2_6.png")
        (1, 1)
    """
    match = _NAME.fullmatch(name)
    if match is None:
        raise DatasetLayoutError(
            f"File name {name!r} is not a CUHK03-NP name; expected PPPP_cC_N.png (e.g. "
            "0001_c2_6.png: person 1, camera 2 of the pair, image 6). Remove or rename the file, "
            "or read your own layout with ImageFolderReid."
        )
    return int(match.group(1)), int(match.group(2)) - 1


def format_cuhk03np_name(pid: int, camid: int, *, index: int = 1) -> str:
    """The CUHK03-NP file name of person ``pid`` seen by 0-based camera ``camid`` (0 or 1).

    Raises:
        ValueError: A field does not fit the format (pid 0..9999, camid 0..1, index >= 0).

    Example:
        >>> format_cuhk03np_name(1, 1, index=6)
        '0001_c2_6.png'
    """
    checks = {"pid": (pid, 0, 9999), "camid": (camid, 0, 1), "index": (index, 0, 10**9)}
    for field_name, (value, low, high) in checks.items():
        if not low <= value <= high:
            raise InputError(f"{field_name} must be in {low}..{high}, got {value}.")
    return f"{pid:04d}_c{camid + 1}_{index}.png"


class CUHK03NP:
    """Reads one variant of CUHK03-NP into :class:`~siamreid.data.ReidSplits`.

    Args:
        root: The ``cuhk03-np`` folder (holding ``labeled/`` and ``detected/``), or the folder
            that contains it.
        variant: ``"labeled"`` (hand-drawn boxes) or ``"detected"`` (DPM detections).

    Attributes:
        published: The counts a complete copy of ``variant`` loads to.

    Raises:
        ConfigError: ``variant`` is neither ``"labeled"`` nor ``"detected"``.

    Example:
        >>> splits = CUHK03NP("data/cuhk03", variant="detected").load()  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """

    PUBLISHED: ClassVar[dict[str, PublishedCounts]] = {
        "labeled": PublishedCounts(
            train=SplitCounts(767, 7_368),
            query=SplitCounts(700, 1_400),
            gallery=SplitCounts(700, 5_328),
            source="CUHK03-NP labeled",
        ),
        "detected": PublishedCounts(
            train=SplitCounts(767, 7_365),
            query=SplitCounts(700, 1_400),
            gallery=SplitCounts(700, 5_332),
            source="CUHK03-NP detected",
        ),
    }

    def __init__(self, root: str | os.PathLike[str], variant: CUHK03NPVariant = "labeled") -> None:
        if variant not in _VARIANTS:
            raise ConfigError(
                f"CUHK03NP variant is {variant!r}; expected 'labeled' (hand-drawn boxes) or "
                "'detected' (DPM detections)."
            )
        self.root = Path(root)
        self.variant: CUHK03NPVariant = variant
        self.name = f"CUHK03NP-{variant}"
        self.published = self.PUBLISHED[variant]

    @property
    def dataset_dir(self) -> Path:
        """The variant's folder, holding its three split folders.

        Raises:
            DatasetLayoutError: Neither ``root/<variant>`` nor ``root/cuhk03-np/<variant>`` holds
                them.
        """
        return locate(
            self.root,
            (self.variant, f"{CUHK03NP_FOLDER}/{self.variant}"),
            dataset=f"CUHK03-NP ({self.variant})",
            source=_SOURCE,
            root_itself=False,  # a bare variant folder could be the other variant
        )

    def load(self) -> ReidSplits:
        """Read the variant's three splits (sorted by file name).

        Returns:
            Splits named ``"CUHK03NP-labeled"`` or ``"CUHK03NP-detected"``: train pids relabelled
            ``0..N-1``; query and gallery with their original pids; cameras 0 and 1; a note for
            each split whose counts differ from :attr:`published`.

        Raises:
            DatasetLayoutError: A split folder is missing or has no image, or a file name does
                not parse.
        """
        splits = read_market_style(
            self.dataset_dir,
            parse_cuhk03np_name,
            name=self.name,
            dataset=f"CUHK03-NP ({self.variant})",
            source=_SOURCE,
        )
        return with_count_notes(splits, self.published)
