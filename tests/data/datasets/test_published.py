"""Published counts: the one comparison of loaded splits against a benchmark's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siamreid.data.datasets.published import (
    PublishedCounts,
    SplitCounts,
    compare_counts,
    count_split,
    with_count_notes,
)
from siamreid.data.samples import ReidSample, ReidSplits


def _samples(pids: list[int]) -> list[ReidSample]:
    return [ReidSample(Path(f"{i}.jpg"), pid, 0) for i, pid in enumerate(pids)]


pid_lists = st.lists(st.integers(0, 20), max_size=30)


@given(train=pid_lists, query=pid_lists, gallery=pid_lists)
def test_a_note_exactly_for_each_split_that_differs(
    train: list[int], query: list[int], gallery: list[int]
) -> None:
    splits = ReidSplits(_samples(train), _samples(query), _samples(gallery))
    reference = PublishedCounts(
        SplitCounts(len(set(train)), len(train)),
        SplitCounts(len(set(query)), len(query)),
        SplitCounts(len(set(gallery)), len(gallery)),
        source="Ref",
    )
    assert compare_counts(splits, reference) == ()
    one_more = SplitCounts(reference.query.ids, reference.query.images + 1)
    notes = compare_counts(
        splits, PublishedCounts(reference.train, one_more, reference.gallery, "R")
    )
    assert len(notes) == 1
    assert notes[0].startswith(f"query has {count_split(splits.query)}; R publishes {one_more}")


def test_notes_are_appended_to_the_splits_own() -> None:
    splits = ReidSplits(_samples([1, 1]), _samples([2]), _samples([2, 0]), notes=("first",))
    published = PublishedCounts(SplitCounts(1, 2), SplitCounts(1, 1), SplitCounts(3, 3_000), "P")
    noted = with_count_notes(splits, published)
    assert noted.notes[0] == "first"
    assert noted.notes[1].startswith("gallery has 2 ids / 2 images; P publishes 3 ids / 3,000")
    assert noted.train == splits.train


@pytest.mark.parametrize(("ids", "images"), [(-1, 0), (0, -1), (3, 2)])
def test_split_counts_reject_impossible_numbers(ids: int, images: int) -> None:
    with pytest.raises(ValueError, match="ids <= images"):
        SplitCounts(ids, images)
