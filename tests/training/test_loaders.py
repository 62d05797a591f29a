"""Seeded training batches: the RNG helper and the per-rank epoch plans."""

from __future__ import annotations

import torch

from siamreid.training.config import SamplingConfig
from siamreid.training.loaders import plan_epoch, seeded_rng


def test_seeded_rng_repeats_draws_and_restores_the_callers_rng() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded_rng(7):
        first = torch.rand(4)
    with seeded_rng(7):
        again = torch.rand(4)
    with seeded_rng(8):
        other = torch.rand(4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream is untouched


def test_rank_plans_interleave_into_the_single_process_plan() -> None:
    pids = [i // 3 for i in range(60)]  # 20 identities, 3 images each
    config = SamplingConfig(p=4, k=2)
    single = plan_epoch(pids, config, epoch=1, seed=5)
    ranks = [plan_epoch(pids, config, epoch=1, seed=5, rank=r, world=2) for r in range(2)]
    assert single.batch_size == 8
    assert all(plan.batch_size == 4 for plan in ranks)
    merged = []
    for step in range(single.steps):
        for plan in ranks:
            merged += plan.keys[step * 4 : (step + 1) * 4]
    assert merged == single.keys  # same items, same augmentation seeds, same order
    resumed = plan_epoch(pids, config, epoch=1, seed=5, start_step=2)
    assert resumed.keys == single.keys[2 * 8 :]
