"""combine_splits: several datasets as one, with their identities and cameras kept apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.data.combine import combine_splits
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import ConfigError
from siamreid.models import SiameseEmbedder

_camids = st.one_of(st.none(), st.integers(0, 7))


@st.composite
def _parts(draw: st.DrawFn, index: int) -> ReidSplits:
    """A dataset whose train pids are 0..N-1 and whose query/gallery pids use 0 and -1 too."""
    num_train = draw(st.integers(1, 5))
    train = [
        ReidSample(Path(f"d{index}/train/{i}.jpg"), pid, draw(_camids))
        for i, pid in enumerate(
            draw(st.lists(st.integers(0, num_train - 1), min_size=num_train, max_size=12))
        )
    ]
    train += [ReidSample(Path(f"d{index}/train/x{p}.jpg"), p, 0) for p in range(num_train)]
    query = [
        ReidSample(Path(f"d{index}/query/{i}.jpg"), pid, draw(_camids))
        for i, pid in enumerate(draw(st.lists(st.integers(1, 9), max_size=6)))
    ]
    gallery = [
        ReidSample(Path(f"d{index}/gallery/{i}.jpg"), pid, draw(_camids))
        for i, pid in enumerate(draw(st.lists(st.integers(-1, 9), max_size=8)))
    ]
    return ReidSplits(train, query, gallery, name=f"d{index}", notes=(f"note {index}",))


@st.composite
def _datasets(draw: st.DrawFn) -> list[ReidSplits]:
    return [draw(_parts(i)) for i in range(draw(st.integers(2, 4)))]


def _owner(sample: ReidSample) -> int:
    return int(sample.path.parts[0][1:])


@settings(max_examples=60, deadline=None)
@given(_datasets())
def test_ids_and_cameras_never_merge_across_datasets(parts: list[ReidSplits]) -> None:
    combined = combine_splits(parts)
    assert combined.num_train_pids == sum(p.num_train_pids for p in parts)
    assert {s.pid for s in combined.train} == set(range(combined.num_train_pids))
    before = {s.path: s for p in parts for s in (*p.train, *p.query, *p.gallery)}
    after = [*combined.train, *combined.query, *combined.gallery]
    for split in ("train", "query", "gallery"):  # every sample kept, in dataset order
        kept = [s.path for s in getattr(combined, split)]
        assert kept == [s.path for p in parts for s in getattr(p, split)]
    pairs: dict[tuple[str, int], tuple[int, int]] = {}  # (split kind, new id) -> (dataset, old)
    cams: dict[int, tuple[int, int]] = {}
    for sample in after:
        old, owner = before[sample.path], _owner(sample)
        kind = "train" if sample.path.parts[1] == "train" else "test"
        if kind == "test" and old.pid <= 0:
            assert sample.pid == old.pid  # distractors and junk name nobody anywhere
        else:
            # one new id per (dataset, old id), and never shared by two datasets
            assert pairs.setdefault((kind, sample.pid), (owner, old.pid)) == (owner, old.pid)
        assert (sample.camid is None) == (old.camid is None)
        if sample.camid is not None and old.camid is not None:
            assert cams.setdefault(sample.camid, (owner, old.camid)) == (owner, old.camid)
    assert combined.notes == tuple(f"d{i}: note {i}" for i in range(len(parts)))
    assert combined.name == " + ".join(p.name for p in parts)


def test_two_copies_of_one_dataset_stay_two_sets_of_people(synthetic_splits: ReidSplits) -> None:
    both = combine_splits([synthetic_splits, synthetic_splits], name="twice")
    n = synthetic_splits.num_train_pids
    assert both.name == "twice"
    assert both.num_train_pids == 2 * n
    assert [s.pid - n for s in both.train[len(synthetic_splits.train) :]] == [
        s.pid for s in synthetic_splits.train
    ]
    top = max(s.pid for s in (*synthetic_splits.query, *synthetic_splits.gallery))
    second_query = both.query[len(synthetic_splits.query) :]
    assert [s.pid - top for s in second_query] == [s.pid for s in synthetic_splits.query]
    cameras = 1 + max(s.camid or 0 for s in synthetic_splits.gallery)
    assert {s.camid for s in second_query} == {
        (s.camid or 0) + cameras for s in synthetic_splits.query
    }
    assert both.has_cameras


def test_identity_classifier_is_sized_to_the_total(
    tiny_model_factory: Callable[..., SiameseEmbedder], synthetic_splits: ReidSplits
) -> None:
    both = combine_splits([synthetic_splits, synthetic_splits])
    model = tiny_model_factory(embedding_dim=8, num_classes=both.num_train_pids)
    assert model.head.classifier is not None
    assert model.head.classifier.out_features == 2 * synthetic_splits.num_train_pids
    assert max(s.pid for s in both.train) == model.head.classifier.out_features - 1


def test_one_dataset_comes_back_as_it_is(synthetic_splits: ReidSplits) -> None:
    assert combine_splits([synthetic_splits]) == synthetic_splits
    assert combine_splits([synthetic_splits], name="x").train == synthetic_splits.train


def test_no_dataset_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        combine_splits([])
