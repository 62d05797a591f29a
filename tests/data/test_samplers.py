"""PKSampler invariants over random datasets (hypothesis): batch shape, DDP slices, seeding."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from siamreid.data.samplers import PKSampler
from siamreid.errors import ConfigError


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[int], int, int, int]:
    """(pids in dataset order, p, k, world_size) with at least p identities."""
    world = draw(st.sampled_from([1, 2, 4]))
    p = world * draw(st.integers(1, 3))
    k = draw(st.integers(1, 5))
    num_ids = draw(st.integers(p, p + 6))
    counts = draw(st.lists(st.integers(1, 9), min_size=num_ids, max_size=num_ids))
    pids = [pid * 7 + 3 for pid, n in enumerate(counts) for _ in range(n)]  # arbitrary labels
    order = draw(st.permutations(range(len(pids))))
    return [pids[i] for i in order], p, k, world


def _global(pids: list[int], p: int, k: int, seed: int, epoch: int = 0) -> list[list[int]]:
    sampler = PKSampler(pids, p, k, seed=seed)
    sampler.set_epoch(epoch)
    flat = list(sampler)
    return [flat[i : i + p * k] for i in range(0, len(flat), p * k)]


@settings(max_examples=150, deadline=None)
@given(data=datasets(), seed=st.integers(0, 2**32 - 1))
def test_every_batch_has_p_distinct_identities_times_k(
    data: tuple[list[int], int, int, int], seed: int
) -> None:
    pids, p, k, _ = data
    sizes = Counter(pids)
    sampler = PKSampler(pids, p, k, seed=seed)
    flat = list(sampler)
    assert len(flat) == len(sampler)
    assert len(flat) % (p * k) == 0
    assert len(flat) > 0
    for batch in _global(pids, p, k, seed):
        runs = [batch[i : i + k] for i in range(0, p * k, k)]
        labels = [{pids[i] for i in run} for run in runs]
        assert all(len(lab) == 1 for lab in labels)  # K images of one identity, contiguous
        assert len({next(iter(lab)) for lab in labels}) == p  # P distinct identities
        for run in runs:  # repeats only when the identity has fewer than K images
            if sizes[pids[run[0]]] >= k:
                assert len(set(run)) == k


@settings(max_examples=100, deadline=None)
@given(data=datasets(), seed=st.integers(0, 1000), epoch=st.integers(0, 5))
def test_ranks_concatenate_to_the_single_process_batch(
    data: tuple[list[int], int, int, int], seed: int, epoch: int
) -> None:
    pids, p, k, world = data
    single = _global(pids, p, k, seed, epoch)
    per_rank = []
    for rank in range(world):
        sampler = PKSampler(pids, p, k, seed=seed, rank=rank, world_size=world)
        sampler.set_epoch(epoch)
        assert sampler.batch_size == p // world * k
        flat = list(sampler)
        assert len(flat) == len(sampler) == len(single) * sampler.batch_size
        per_rank.append(
            [flat[i : i + sampler.batch_size] for i in range(0, len(flat), sampler.batch_size)]
        )
    for step, batch in enumerate(single):
        assert [i for ranks in per_rank for i in ranks[step]] == batch


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(1, 4), min_size=2, max_size=12), seed=st.integers(0, 99))
def test_identities_with_at_most_k_images_are_all_covered(counts: list[int], seed: int) -> None:
    k = 4
    pids = [pid for pid, n in enumerate(counts) for _ in range(n)]
    p = next(d for d in (4, 3, 2, 1) if len(counts) % d == 0)
    seen = set(PKSampler(pids, p, k, seed=seed))
    assert seen == set(range(len(pids)))


def test_large_identities_are_covered_except_a_few_chunks() -> None:
    rng = np.random.default_rng(0)
    pids = rng.integers(0, 50, size=2000).tolist()
    sampler = PKSampler(pids, 8, 4, seed=0)
    seen = set(sampler)
    assert len(seen) > 0.9 * len(pids)
    assert len(sampler) <= len(pids) + 50 * 4  # top-ups add less than one chunk per identity


def test_same_seed_same_order_and_epochs_reshuffle() -> None:
    pids = np.repeat(np.arange(30), 6).tolist()
    assert _global(pids, 6, 4, seed=1) == _global(pids, 6, 4, seed=1)
    assert _global(pids, 6, 4, seed=1) != _global(pids, 6, 4, seed=2)
    assert _global(pids, 6, 4, seed=1, epoch=0) != _global(pids, 6, 4, seed=1, epoch=1)
    sampler = PKSampler(pids, 6, 4, seed=1)
    sampler.set_epoch(1)
    sampler.set_epoch(0)
    assert list(sampler) == [i for batch in _global(pids, 6, 4, seed=1) for i in batch]


def test_does_not_touch_the_global_numpy_rng() -> None:
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    list(PKSampler(np.repeat(np.arange(8), 3), 4, 2, seed=0))
    assert np.random.random() == expected


def test_dataloader_yields_the_sampler_batches() -> None:
    pids = np.repeat(np.arange(10), 5).tolist()
    sampler = PKSampler(pids, 4, 2, seed=3)
    loader = DataLoader(range(len(pids)), batch_size=sampler.batch_size, sampler=sampler)
    batches = [b.tolist() for b in loader]
    assert batches == _global(pids, 4, 2, seed=3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 0, "k": 4}, "p >= 1"),
        ({"p": 4, "k": 0}, "k >= 1"),
        ({"p": 20, "k": 4}, "exceeds the 10 identities"),
        ({"p": 3, "k": 4, "world_size": 2}, "divisible by world_size"),
        ({"p": 4, "k": 4, "world_size": 2, "rank": 2}, "rank=2"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PKSampler(np.repeat(np.arange(10), 3).tolist(), **kwargs)
