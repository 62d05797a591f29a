"""Dataset names -> adapters: the one list of the datasets a recipe or a command can name.

- ``market1501``: ``Market-1501-v15.09.15/`` (:class:`~siamreid.data.Market1501`);
- ``dukemtmcreid``: ``DukeMTMC-reID/`` (``DukeMTMCReID``);
- ``msmt17``: ``MSMT17_V1/`` or ``MSMT17_V2/`` with their list files (``MSMT17``);
- ``cuhk03np_labeled``, ``cuhk03np_detected``: ``cuhk03-np/{labeled,detected}/`` (``CUHK03NP``);
- ``mot``: MOTChallenge-format sequences, MOT17/MOT20/DanceTrack (``MOTChallenge``);
- ``folder``: ``root/<identity>/<image>``, users' own data (``ImageFolderReid``);
- ``synthetic``: the synthetic Market-1501, generated into ``root`` if absent.

Adapters are imported when a dataset is loaded, not when this module is, so naming and validating
datasets (:class:`~siamreid.data.DataConfig`) costs nothing. :func:`detect_dataset` names the
dataset a folder holds from its layout alone, reading no image.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, cast

from siamreid.data.datasets._detect import (
    is_cuhk03np,
    is_dukemtmcreid,
    is_market1501,
    is_mot,
    is_msmt17,
    is_synthetic_market,
)
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError

if TYPE_CHECKING:
    from siamreid.data.datasets.published import PublishedCounts

__all__ = [
    "DATASETS",
    "DatasetEntry",
    "DatasetName",
    "SourceFields",
    "check_dataset_name",
    "detect_dataset",
    "load_source",
]


DatasetName: TypeAlias = Literal[
    "market1501",
    "dukemtmcreid",
    "msmt17",
    "cuhk03np_labeled",
    "cuhk03np_detected",
    "mot",
    "folder",
    "synthetic",
]
"""A registered dataset name: the keys of :data:`DATASETS`, as a type (recipes check it)."""


class SourceFields(Protocol):
    """What the loaders read of a :class:`~siamreid.data.SourceFields` (which validates its
    names against this registry: the registry imports no config)."""

    @property
    def dataset(self) -> str: ...

    @property
    def path(self) -> Path: ...

    @property
    def options(self) -> Mapping[str, Any]: ...

    @property
    def seed(self) -> int: ...

    @property
    def camera_pattern(self) -> str: ...

    @property
    def synthetic_train_ids(self) -> int: ...

    @property
    def synthetic_test_ids(self) -> int: ...


@dataclass(frozen=True)
class DatasetEntry:
    """How the registry loads one dataset name.

    Attributes:
        load: Reads (or generates) the dataset a source describes.
        published: The counts a complete copy loads to, or ``None`` when the dataset has none
            (users' folders, synthetic and tracking data).
        detect: Whether a folder (or the folder it holds) is laid out as this dataset; reads no
            image (at most one file name).
        options: Checks a source's ``options`` (raising :class:`~siamreid.errors.ConfigError`
            naming the key) and returns them typed; a dataset without options refuses any.
    """

    load: Callable[[SourceFields], ReidSplits]
    published: Callable[[], PublishedCounts | None]
    detect: Callable[[Path], bool]
    options: Callable[[Mapping[str, Any], str], object] | None = None

    def check_options(self, options: Mapping[str, Any], where: str) -> object:
        """The typed ``options`` of a source of this dataset (``None`` when it takes none).

        Raises:
            ConfigError: A key or value is wrong, or the dataset takes no options.
        """
        if self.options is not None:
            return self.options(options, where)
        if options:
            raise ConfigError(
                f"{where} is {dict(options)!r}, but this dataset takes no options (only 'mot' "
                "does); leave it out."
            )
        return None


def _none() -> PublishedCounts | None:
    return None


def _mot_options(options: Mapping[str, Any], where: str) -> object:
    from siamreid.data.datasets._mot_options import MOTOptions

    return MOTOptions.from_mapping(options, where)


def _market1501(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.market1501 import Market1501

    return Market1501(source.path).load()


def _market1501_published() -> PublishedCounts | None:
    from siamreid.data.datasets.market1501 import Market1501

    return Market1501.published


def _dukemtmcreid(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.dukemtmc import DukeMTMCReID

    return DukeMTMCReID(source.path).load()


def _dukemtmcreid_published() -> PublishedCounts | None:
    from siamreid.data.datasets.dukemtmc import DukeMTMCReID

    return DukeMTMCReID.published


def _msmt17(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.msmt17 import MSMT17

    return MSMT17(source.path).load()


def _msmt17_published() -> PublishedCounts | None:
    from siamreid.data.datasets.msmt17 import MSMT17

    return MSMT17.published


def _cuhk03np_labeled(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.cuhk03np import CUHK03NP

    return CUHK03NP(source.path, variant="labeled").load()


def _cuhk03np_detected(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.cuhk03np import CUHK03NP

    return CUHK03NP(source.path, variant="detected").load()


def _cuhk03np_labeled_published() -> PublishedCounts | None:
    from siamreid.data.datasets.cuhk03np import CUHK03NP

    return CUHK03NP.PUBLISHED["labeled"]


def _cuhk03np_detected_published() -> PublishedCounts | None:
    from siamreid.data.datasets.cuhk03np import CUHK03NP

    return CUHK03NP.PUBLISHED["detected"]


def _mot(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets._mot_options import MOTOptions
    from siamreid.data.datasets.mot import MOTChallenge

    options = MOTOptions.from_mapping(source.options, "options")
    return MOTChallenge(source.path, seed=source.seed, **dataclasses.asdict(options)).load()


def _folder(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.folder import ImageFolderReid

    return ImageFolderReid(
        source.path, camera_pattern=source.camera_pattern, seed=source.seed
    ).load()


def _synthetic(source: SourceFields) -> ReidSplits:
    from siamreid.data.datasets.market1501 import MARKET1501_FOLDER, Market1501
    from siamreid.data.datasets.published import compare_counts
    from siamreid.data.synthetic.market import make_synthetic_market

    root = source.path
    if not (root / MARKET1501_FOLDER).is_dir() and not (root / "bounding_box_train").is_dir():
        make_synthetic_market(
            root,
            num_train_ids=source.synthetic_train_ids,
            num_test_ids=source.synthetic_test_ids,
            seed=source.seed,
        )
    splits = Market1501(root).load()
    # a copy written before the generator marked its folders: drop the comparison's notes
    unlike_market = set(compare_counts(splits, Market1501.published))
    notes = tuple(n for n in splits.notes if n not in unlike_market)
    return replace(splits, name="Synthetic Market-1501", notes=notes)


def _never(root: Path) -> bool:
    return False  # users' folders look like any folder of folders: they are named, not detected


DATASETS: Mapping[str, DatasetEntry] = MappingProxyType(
    {
        "market1501": DatasetEntry(_market1501, _market1501_published, is_market1501),
        "dukemtmcreid": DatasetEntry(_dukemtmcreid, _dukemtmcreid_published, is_dukemtmcreid),
        "msmt17": DatasetEntry(_msmt17, _msmt17_published, is_msmt17),
        "cuhk03np_labeled": DatasetEntry(
            _cuhk03np_labeled, _cuhk03np_labeled_published, is_cuhk03np("labeled")
        ),
        "cuhk03np_detected": DatasetEntry(
            _cuhk03np_detected, _cuhk03np_detected_published, is_cuhk03np("detected")
        ),
        "mot": DatasetEntry(_mot, _none, is_mot, _mot_options),
        "folder": DatasetEntry(_folder, _none, _never),
        "synthetic": DatasetEntry(_synthetic, _none, is_synthetic_market),
    }
)
"""Every dataset name, read-only: ``DATASETS[name].load(source)`` reads the dataset."""


def check_dataset_name(name: str, *, where: str = "dataset") -> DatasetEntry:
    """The registry entry of ``name``.

    Args:
        name: A dataset name.
        where: What holds the name, for the message (``"DataConfig.dataset"``).

    Raises:
        ConfigError: ``name`` is not registered; the message lists the known names and the
            closest one.
    """
    entry = DATASETS.get(name) if isinstance(name, str) else None
    if entry is not None:
        return entry
    close = difflib.get_close_matches(str(name), list(DATASETS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"{where} is {name!r}, which is not a known dataset.{hint} Known datasets: "
        f"{', '.join(DATASETS)}."
    )


def detect_dataset(
    root: str | os.PathLike[str], *, where: str = "root", name_with: str = "its name"
) -> DatasetName:
    """The registered dataset whose layout ``root`` has (the dataset folder or its parent).

    Args:
        root: A dataset folder (``~`` is expanded).
        where: What holds the folder, for the message (``"--root"``).
        name_with: How the caller names a dataset instead, for the message (``"--dataset"``).

    Raises:
        DatasetLayoutError: ``root`` does not exist.
        ConfigError: No layout fits (``folder`` datasets are never detected) or several do; the
            message names them and says to give the name.

    Example:
        >>> detect_dataset("data/synth")  # doctest: +SKIP
        'synthetic'
    """
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetLayoutError(f"{where} {str(root)!r} does not exist or is not a folder.")
    found = [name for name, entry in DATASETS.items() if entry.detect(path)]
    if len(found) == 1:
        return cast("DatasetName", found[0])
    if found:
        raise ConfigError(
            f"{where} {str(root)!r} fits the layouts of {' and '.join(found)}; give {name_with}."
        )
    raise ConfigError(
        f"{where} {str(root)!r} is laid out as no known benchmark ({', '.join(DATASETS)}); give "
        f"{name_with} (a folder of <person>/<image> files is 'folder')."
    )


def load_source(source: SourceFields) -> ReidSplits:
    """Read (for ``synthetic``: generate once, then read) the dataset ``source`` names.

    Raises:
        ConfigError: The dataset name is unknown.
        DatasetLayoutError: The folder is missing or not laid out as the dataset's adapter reads.
    """
    return check_dataset_name(source.dataset, where="dataset").load(source)
