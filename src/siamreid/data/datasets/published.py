"""The published statistics of a benchmark, and the one comparison of a loaded copy against them.

An adapter that knows its dataset's published numbers (identities and images per split, as the
paper and torchreid report them) keeps them in a class attribute ``published``; the adapter's
``load()`` then adds a note to :attr:`ReidSplits.notes` for every split whose counts differ. An
incomplete download or extraction is the usual cause; a subset is another.

The comparison applies to real datasets only: a folder whose manifest says siamreid's synthetic
generator wrote it (:data:`SYNTHETIC_GENERATOR`, see :func:`siamreid._paths.write_manifest`) is
compared with nothing (its counts are small by design).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from siamreid._paths import generator_of
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import InputError

__all__ = [
    "SYNTHETIC_GENERATOR",
    "PublishedCounts",
    "SplitCounts",
    "compare_counts",
    "count_split",
    "is_synthetic",
    "with_count_notes",
]

SYNTHETIC_GENERATOR = "siamreid synth"
"""What the synthetic Market-1501 generator signs its folders' manifests with."""


@dataclass(frozen=True)
class SplitCounts:
    """Identities and images of one split.

    Attributes:
        ids: Number of distinct person ids (a distractor id such as Market-1501's ``0`` counts as
            one, as torchreid counts it).
        images: Number of images.
    """

    ids: int
    images: int

    def __post_init__(self) -> None:
        if self.ids < 0 or self.images < 0 or self.ids > self.images:
            raise InputError(
                f"SplitCounts needs 0 <= ids <= images, got ids={self.ids}, images={self.images}."
            )

    def __str__(self) -> str:
        return f"{self.ids:,} ids / {self.images:,} images"


@dataclass(frozen=True)
class PublishedCounts:
    """The counts a complete copy of a benchmark loads to, split by split.

    Attributes:
        train: Training split (after the adapter's junk rule).
        query: Query split.
        gallery: Gallery split (distractors included, junk dropped).
        source: The dataset's name as the notes show it.

    Example:
        >>> from siamreid.data import DukeMTMCReID
        >>> DukeMTMCReID.published.train
        SplitCounts(ids=702, images=16522)
    """

    train: SplitCounts
    query: SplitCounts
    gallery: SplitCounts
    source: str


def count_split(samples: Sequence[ReidSample]) -> SplitCounts:
    """The identities and images of ``samples``, counted as :meth:`ReidSplits.summary` does."""
    return SplitCounts(len({s.pid for s in samples}), len(samples))


def compare_counts(splits: ReidSplits, published: PublishedCounts) -> tuple[str, ...]:
    """One note per split whose identity or image count differs from ``published``.

    Returns:
        An empty tuple when every split matches; otherwise notes such as ``"query has 700 ids /
        1,399 images; CUHK03-NP labeled publishes 700 ids / 1,400 images (an incomplete
        download?)"``, in train, query, gallery order.

    Example:
        >>> notes = compare_counts(splits, DukeMTMCReID.published)  # doctest: +SKIP
    """
    notes = []
    for split_name, samples, expected in (
        ("train", splits.train, published.train),
        ("query", splits.query, published.query),
        ("gallery", splits.gallery, published.gallery),
    ):
        found = count_split(samples)
        if found != expected:
            notes.append(
                f"{split_name} has {found}; {published.source} publishes {expected} "
                "(an incomplete download?)"
            )
    return tuple(notes)


def is_synthetic(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` was written by siamreid's synthetic generator (its manifest says so)."""
    return generator_of(folder) == SYNTHETIC_GENERATOR


def with_count_notes(
    splits: ReidSplits, published: PublishedCounts, folder: str | os.PathLike[str] | None = None
) -> ReidSplits:
    """``splits`` with :func:`compare_counts`'s notes appended to its own.

    Args:
        splits: The loaded dataset.
        published: The counts of a complete copy.
        folder: The dataset folder read; a synthetic one (:func:`is_synthetic`) gets no notes.
    """
    if folder is not None and is_synthetic(folder):
        return splits
    return replace(splits, notes=(*splits.notes, *compare_counts(splits, published)))
