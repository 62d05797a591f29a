"""Which datasets a recipe trains and evaluates on.

A recipe's ``data`` section names one dataset (``{dataset, root}``: train and test on it) or
lists several (``train: [{dataset, root}, ...]``, ``test: [{dataset, root}, ...]``). The names
are those of :mod:`siamreid.data.registry`, which loads them; this module only describes them, so
it imports no dataset adapter. A dataset's own settings go in ``options`` (for ``mot``, the fields
of :class:`~siamreid.data.MOTOptions`: ``options: {frame_step: 10}``), checked here against the
adapter's typed options. A ``root`` may start with ``~`` (the home folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from siamreid.data.registry import DatasetName, check_dataset_name
from siamreid.errors import ConfigError

__all__ = ["DataConfig", "DatasetSource"]

_CAMERA_PATTERN = r"c(\d+)"


def _check_options(
    owner: str, dataset: str, train_ids: int, test_ids: int, options: dict[str, Any]
) -> None:
    entry = check_dataset_name(dataset, where=f"{owner}.dataset")
    if not isinstance(options, dict):
        raise ConfigError(f"{owner}.options must be a mapping, got {options!r}.")
    entry.check_options(options, f"{owner}.options")
    if min(train_ids, test_ids) < 2:
        raise ConfigError(
            f"{owner}.synthetic_train_ids/_test_ids must each be >= 2, got {train_ids} and "
            f"{test_ids}."
        )


@dataclass(frozen=True)
class DatasetSource:
    """One dataset: its registry name, its folder and the options its loader reads.

    Attributes:
        dataset: A name from :data:`siamreid.data.registry.DATASETS` (``"market1501"``,
            ``"dukemtmcreid"``, ``"msmt17"``, ``"cuhk03np_labeled"``, ``"cuhk03np_detected"``,
            ``"mot"``, ``"folder"``, ``"synthetic"``).
        root: Dataset folder (for ``synthetic``: generated there if absent).
        name: Label of this dataset in reports and ``metrics.json``; empty: the dataset name.
        synthetic_train_ids: Training identities of the synthetic dataset.
        synthetic_test_ids: Held-out identities of the synthetic dataset.
        camera_pattern: Regular expression with one group for the camera in ``folder`` file
            names.
        seed: Seed of the synthetic generator and of the ``folder`` identity split.
        options: The dataset's own settings by name (``mot``: :class:`~siamreid.data.MOTOptions`'
            fields); other datasets take none.

    Example:
        >>> DatasetSource("market1501", "data/market1501").label
        'market1501'
    """

    dataset: DatasetName
    root: str
    name: str = ""
    synthetic_train_ids: int = 100
    synthetic_test_ids: int = 100
    camera_pattern: str = _CAMERA_PATTERN
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_options(
            "DatasetSource",
            self.dataset,
            self.synthetic_train_ids,
            self.synthetic_test_ids,
            self.options,
        )

    @property
    def path(self) -> Path:
        """:attr:`root` as a path, ``~`` expanded: the folder the adapter reads."""
        return Path(self.root).expanduser()

    @property
    def label(self) -> str:
        """How reports name this dataset: :attr:`name`, else :attr:`dataset`."""
        return self.name or self.dataset


@dataclass(frozen=True)
class DataConfig:
    """The data section of a recipe: one dataset, or lists of training and test datasets.

    With neither ``train`` nor ``test``, the run trains and evaluates on ``dataset`` at ``root``
    (the fields below describe it). ``train`` replaces that dataset for training; ``test``
    replaces it for evaluation and defaults to the training datasets. Identities and cameras of
    different training datasets are kept apart (see :func:`siamreid.data.combine_splits`).

    Attributes:
        dataset: A name from :data:`siamreid.data.registry.DATASETS`, e.g. ``"market1501"``,
            ``"synthetic"`` (generated into ``root`` if absent) or ``"folder"``
            (``root/<identity>/<image>``).
        root: Dataset folder.
        synthetic_train_ids: Training identities of the synthetic dataset.
        synthetic_test_ids: Held-out identities of the synthetic dataset.
        camera_pattern: Regular expression with one group for the camera in ``folder`` filenames.
        seed: Seed of the synthetic generator and of the ``folder`` identity split.
        options: The dataset's own settings (``mot``: :class:`~siamreid.data.MOTOptions`'
            fields, e.g. ``{"frame_step": 10}``).
        train: Training datasets, merged into one training set; ``None``: ``dataset``.
        test: Test datasets, each evaluated on its own; ``None``: the training datasets.
        on_bad_image: ``"raise"``: an unreadable image stops the run with an error naming the
            file. ``"skip"``: every image is decoded once before training and unreadable ones
            are left out of all splits, with a warning each (see
            :func:`~siamreid.data.apply_bad_image_policy`).

    Example:
        >>> config = DataConfig(
        ...     train=(DatasetSource("market1501", "data/market1501"),),
        ...     test=(DatasetSource("dukemtmcreid", "data/duke"), DatasetSource("msmt17", "msmt")),
        ... )
        >>> [s.label for s in config.test_sources]
        ['dukemtmcreid', 'msmt17']
    """

    dataset: DatasetName = "market1501"
    root: str = "data"
    synthetic_train_ids: int = 100
    synthetic_test_ids: int = 100
    camera_pattern: str = _CAMERA_PATTERN
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    train: tuple[DatasetSource, ...] | None = None
    test: tuple[DatasetSource, ...] | None = None
    on_bad_image: Literal["raise", "skip"] = "raise"

    def __post_init__(self) -> None:
        _check_options(
            "DataConfig",
            self.dataset,
            self.synthetic_train_ids,
            self.synthetic_test_ids,
            self.options,
        )
        if self.on_bad_image not in ("raise", "skip"):
            raise ConfigError(
                f"DataConfig.on_bad_image is {self.on_bad_image!r}; expected 'raise' or 'skip'."
            )
        for field_name in ("train", "test"):
            sources = getattr(self, field_name)
            if sources is None:
                continue
            if not isinstance(sources, tuple) or not sources:
                raise ConfigError(
                    f"DataConfig.{field_name} must be a non-empty tuple of DatasetSource (in a "
                    f"recipe, a list of {{dataset, root}} mappings), got {sources!r}; leave it "
                    "out to use `dataset` and `root`."
                )
            for i, source in enumerate(sources):
                if not isinstance(source, DatasetSource):
                    raise ConfigError(
                        f"DataConfig.{field_name}[{i}] must be a DatasetSource, got {source!r}."
                    )
        labels = [s.label for s in self.test_sources]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ConfigError(
                f"DataConfig.test names {repeated} more than once; give each test dataset its "
                "own `name` so that reports can tell them apart."
            )

    @property
    def source(self) -> DatasetSource:
        """The single dataset that ``dataset``, ``root`` and the options describe."""
        return DatasetSource(
            self.dataset,
            self.root,
            synthetic_train_ids=self.synthetic_train_ids,
            synthetic_test_ids=self.synthetic_test_ids,
            camera_pattern=self.camera_pattern,
            seed=self.seed,
            options=self.options,
        )

    @property
    def train_sources(self) -> tuple[DatasetSource, ...]:
        """The datasets to train on: ``train``, else the single dataset."""
        return self.train if self.train is not None else (self.source,)

    @property
    def test_sources(self) -> tuple[DatasetSource, ...]:
        """The datasets to evaluate on: ``test``, else the training datasets."""
        return self.test if self.test is not None else self.train_sources

    def sources_by_place(self) -> tuple[tuple[str, DatasetSource], ...]:
        """Every dataset read, with where a recipe gives it (for messages): ``"data"`` for the
        single form, ``"data.train[i]"`` and ``"data.test[i]"`` for entries of the lists."""
        places: list[tuple[str, DatasetSource]] = []
        if self.train is None:
            places.append(("data", self.source))
        for field_name in ("train", "test"):
            sources: tuple[DatasetSource, ...] = getattr(self, field_name) or ()
            places.extend((f"data.{field_name}[{i}]", s) for i, s in enumerate(sources))
        return tuple(places)

    @property
    def is_single(self) -> bool:
        """Whether the run trains and tests on one and the same dataset."""
        return self.train_sources == self.test_sources and len(self.train_sources) == 1
