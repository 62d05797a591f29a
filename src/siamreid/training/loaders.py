"""Deterministic training batches: what each step sees depends only on (seed, epoch, position).

Every training item is loaded with the torch RNG seeded from its global position in the epoch,
so augmentation is the same whatever the number of DataLoader workers or processes, and a run
resumed from a checkpoint sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from siamreid._rng import seeded_rng
from siamreid.data.samplers import PKSampler
from siamreid.errors import ConfigError
from siamreid.training.config import SamplingConfig

__all__ = ["EpochPlan", "SeededItems", "make_loader", "plan_epoch", "seeded_rng", "split_batch"]


def item_seed(seed: int, epoch: int, position: int, stream: int = 0) -> int:
    """A 63-bit seed mixed from the run seed, the epoch and a position.

    ``stream`` keeps independent uses apart: 0 for data items, 1 for training steps.
    """
    ss = np.random.SeedSequence([seed, epoch, position, stream])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class SeededItems(Dataset[Any]):
    """Wraps a dataset: key ``(index, seed, epoch)`` loads item ``index`` under that torch seed."""

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset
        self._epoch = -1

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int, int]) -> Any:
        index, seed, epoch = key
        if epoch != self._epoch and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)  # also reaches persistent worker copies
            self._epoch = epoch
        with seeded_rng(seed):
            return self.dataset[index]


@dataclass
class EpochPlan(Sampler[tuple[int, int, int]]):
    """The keys one process loads in one epoch, in order; mutable so persistent workers survive."""

    keys: list[tuple[int, int, int]]
    batch_size: int

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def steps(self) -> int:
        """Full batches in the plan."""
        return len(self.keys) // self.batch_size


def _pk_order(
    pids: Sequence[int], config: SamplingConfig, seed: int, epoch: int, rank: int, world: int
) -> tuple[list[int], int]:
    sampler = PKSampler(pids, config.p, config.k, seed=seed, rank=rank, world_size=world)
    sampler.set_epoch(epoch)
    return list(sampler), sampler.batch_size


def _triplet_order(
    n: int, config: SamplingConfig, seed: int, epoch: int, rank: int, world: int
) -> tuple[list[int], int]:
    if config.triplets_per_batch % world:
        raise ConfigError(
            f"SamplingConfig.triplets_per_batch={config.triplets_per_batch} must be divisible by "
            f"the number of processes ({world})."
        )
    per_rank = config.triplets_per_batch // world
    order = np.random.default_rng([seed, epoch]).permutation(n)
    steps = n // config.triplets_per_batch
    batches = order[: steps * config.triplets_per_batch].reshape(steps, world, per_rank)
    return batches[:, rank].reshape(-1).tolist(), per_rank


def plan_epoch(
    pids: Sequence[int],
    config: SamplingConfig,
    epoch: int,
    *,
    seed: int,
    max_steps: int | None = None,
    rank: int = 0,
    world: int = 1,
    start_step: int = 0,
) -> EpochPlan:
    """This process's keys for 0-based ``epoch`` under ``seed``, skipping the first
    ``start_step`` batches and stopping after ``max_steps`` batches."""
    if config.kind == "pk":
        local, per_rank = _pk_order(pids, config, seed, epoch, rank, world)
    else:
        local, per_rank = _triplet_order(len(pids), config, seed, epoch, rank, world)
    steps = len(local) // per_rank
    if max_steps is not None:
        steps = min(steps, max_steps)
    keys = []
    for step in range(start_step, steps):
        for offset in range(per_rank):
            position = (step * world + rank) * per_rank + offset
            index = local[step * per_rank + offset]
            keys.append((index, item_seed(seed, epoch, position), epoch))
    return EpochPlan(keys, per_rank)


def make_loader(
    dataset: Dataset[Any], plan: EpochPlan, *, num_workers: int, pin_memory: bool
) -> DataLoader[Any]:
    """A DataLoader over ``plan`` (change ``plan.keys`` between epochs to reuse its workers)."""
    return DataLoader(
        SeededItems(dataset),
        batch_size=plan.batch_size,
        sampler=plan,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        drop_last=True,
    )


def split_batch(
    batch: Sequence[torch.Tensor], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None]:
    """Images, labels and (for explicit triplets) the anchor/positive/negative row indices."""
    if len(batch) == 5:  # (anchor, positive, negative, anchor_pid, negative_pid)
        anchor, positive, negative, pid_a, pid_n = batch
        images = torch.cat([anchor, positive, negative])
        labels = torch.cat([pid_a, pid_a, pid_n])
        n = len(anchor)
        rows = torch.arange(n, device=device)
        return (
            images.to(device, non_blocking=True),
            labels.to(device, non_blocking=True),
            (rows, rows + n, rows + 2 * n),
        )
    images, labels = batch[0], batch[1]
    return images.to(device, non_blocking=True), labels.to(device, non_blocking=True), None
