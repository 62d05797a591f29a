"""Loading what a data config names: one dataset, several combined, and the test sets.

The one place where a :class:`~siamreid.data.DataConfig` becomes :class:`ReidSplits`: the
config describes datasets (and checks their names against :mod:`siamreid.data.registry`), the
registry reads one dataset; this module combines them for a run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from siamreid.data.combine import combine_splits
from siamreid.data.config import DataConfig, DatasetSource
from siamreid.data.registry import load_source
from siamreid.data.samples import ReidSplits

__all__ = ["TrainTestSplits", "load_splits", "load_train_test"]


def load_splits(config: DataConfig | DatasetSource) -> ReidSplits:
    """The training data a config names, as one :class:`ReidSplits`.

    A :class:`~siamreid.data.DataConfig` with one dataset gives that dataset's splits; with a
    ``train`` list, the training datasets combined by :func:`~siamreid.data.combine_splits`
    (use :func:`load_train_test` for the test datasets too).

    Example:
        >>> splits = load_splits(DataConfig(dataset="market1501", root="data"))  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """
    if isinstance(config, DatasetSource):
        return load_source(config)
    return _combined(config.train_sources, load_source)


@dataclass(frozen=True)
class TrainTestSplits:
    """The datasets of a run: one combined training set and the test sets it is evaluated on.

    Attributes:
        train: The training datasets combined (their query/gallery too), named after them.
        tests: Each test dataset by its label (:attr:`DatasetSource.label`), in recipe order;
            a source with a ``name`` gives its splits that name.
    """

    train: ReidSplits
    tests: Mapping[str, ReidSplits]


def load_train_test(config: DataConfig) -> TrainTestSplits:
    """Load every training and test dataset of ``config``, each folder once.

    Example:
        >>> data = load_train_test(recipe.data)  # doctest: +SKIP
        >>> data.train.num_train_pids, list(data.tests)  # doctest: +SKIP
        (751, ['market1501', 'dukemtmcreid'])
    """
    loaded: dict[DatasetSource, ReidSplits] = {}

    def load(source: DatasetSource) -> ReidSplits:
        key = replace(source, name="")  # the label does not change what is read
        if key not in loaded:
            loaded[key] = load_source(source)
        return loaded[key]

    train = _combined(config.train_sources, load)
    tests = {s.label: _named(load(s), s) for s in config.test_sources}
    return TrainTestSplits(train, MappingProxyType(tests))


def _named(splits: ReidSplits, source: DatasetSource) -> ReidSplits:
    """``splits`` under the source's own name, when it has one (its summary then says which)."""
    return replace(splits, name=source.name) if source.name else splits


def _combined(
    sources: Sequence[DatasetSource], load: Callable[[DatasetSource], ReidSplits]
) -> ReidSplits:
    """The training datasets as one: a single one as it is, several by :func:`combine_splits`."""
    parts = [load(s) for s in sources]
    if len(parts) == 1:
        return parts[0]
    return combine_splits(parts, name=" + ".join(s.label for s in sources))
