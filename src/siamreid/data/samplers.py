"""PK batches (P identities x K images) for metric learning, seeded and aware of DDP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from torch.utils.data import Sampler

from siamreid.errors import ConfigError

__all__ = ["PKSampler"]

IntArray = npt.NDArray[np.int64]


class PKSampler(Sampler[int]):
    """Dataset indices in batches of P identities x K images, the same on every process.

    The epoch rule: each identity's images are shuffled and cut into chunks of K; the last chunk
    is topped up with other images of that identity, and an identity with fewer than K images
    fills its one chunk with repeats. So every image sits in at least one chunk. Global batches
    then take P distinct identities at a time, with probability proportional to their chunks
    left, one chunk each, until fewer than P identities have chunks left (those few chunks are
    dropped, so an epoch covers nearly every image once).
    A batch lists its identities one after the other, K indices each.

    Under DDP the *global* batch is P x K: rank ``r`` yields the contiguous slice of ``P /
    world_size`` identities of every global batch, so concatenating the ranks' batches in rank
    order gives exactly the batch of a single process with the same seed. All randomness comes
    from ``numpy.random.default_rng([seed, epoch])``.

    Use it with ``DataLoader(dataset, batch_size=sampler.batch_size, sampler=sampler)`` and call
    :meth:`set_epoch` before each epoch.

    Args:
        pids: Identity of every dataset item, in dataset order.
        p: Identities per global batch (divisible by ``world_size``).
        k: Images per identity in a batch.
        seed: Seed shared by every process.
        rank: This process's rank.
        world_size: Number of processes.

    Raises:
        ConfigError: ``p``/``k`` < 1, fewer than ``p`` identities, ``p`` not divisible by
            ``world_size``, or ``rank`` outside ``0..world_size-1``.

    Example:
        >>> sampler = PKSampler(ReidSplits.pids(splits.train), p=16, k=4, seed=0)  # doctest: +SKIP
        >>> DataLoader(ds, batch_size=sampler.batch_size, sampler=sampler)  # doctest: +SKIP
    """

    def __init__(
        self,
        pids: Sequence[int] | IntArray,
        p: int,
        k: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if p < 1 or k < 1:
            raise ConfigError(f"PKSampler needs p >= 1 and k >= 1, got p={p}, k={k}.")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"PKSampler rank={rank} must be in 0..world_size-1 ({world_size}).")
        if p % world_size:
            raise ConfigError(
                f"PKSampler p={p} identities per global batch must be divisible by world_size="
                f"{world_size}; choose p as a multiple of the number of processes."
            )
        groups: dict[int, list[int]] = defaultdict(list)
        for index, pid in enumerate(np.asarray(pids, dtype=np.int64).tolist()):
            groups[pid].append(index)
        if len(groups) < p:
            raise ConfigError(
                f"PKSampler p={p} exceeds the {len(groups)} identities in the data; lower p."
            )
        self._groups = [np.asarray(groups[pid], dtype=np.int64) for pid in sorted(groups)]
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._cache: tuple[int, IntArray] | None = None

    @property
    def batch_size(self) -> int:
        """Indices per batch on this process: ``p // world_size * k``."""
        return self.p // self.world_size * self.k

    def set_epoch(self, epoch: int) -> None:
        """Reseed for ``epoch`` (every process must pass the same number)."""
        self.epoch = epoch

    def global_batches(self) -> IntArray:
        """This epoch's global batches, shape ``(num_batches, p * k)``, for all ranks."""
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, self._plan(np.random.default_rng([self.seed, self.epoch])))
        return self._cache[1]

    def __iter__(self) -> Iterator[int]:
        per_rank = self.batch_size
        local = self.global_batches()[:, self.rank * per_rank : (self.rank + 1) * per_rank]
        return iter(local.reshape(-1).tolist())

    def __len__(self) -> int:
        return len(self.global_batches()) * self.batch_size

    def _plan(self, rng: np.random.Generator) -> IntArray:
        chunks = [self._chunks(group, rng) for group in self._groups]
        left = np.asarray([len(c) for c in chunks], dtype=np.float64)
        batches = []
        while np.count_nonzero(left) >= self.p:
            chosen = rng.choice(len(chunks), size=self.p, replace=False, p=left / left.sum())
            batch = []
            for identity in chosen:
                left[identity] -= 1
                batch.append(chunks[identity][int(left[identity])])
            batches.append(np.concatenate(batch))
        if not batches:
            return np.empty((0, self.p * self.k), dtype=np.int64)
        return np.stack(batches)

    def _chunks(self, group: IntArray, rng: np.random.Generator) -> list[IntArray]:
        """One identity's images in chunks of K (see the class docstring)."""
        if len(group) < self.k:  # all its images, plus repeats drawn with replacement
            extra = rng.choice(group, size=self.k - len(group), replace=True)
            return [rng.permutation(np.concatenate([group, extra]))]
        order = rng.permutation(group)
        short = -len(order) % self.k
        if short:  # top the last chunk up with images not already in it
            tail = order[: len(order) - len(order) % self.k]
            order = np.concatenate([order, rng.choice(tail, size=short, replace=False)])
        return list(order.reshape(-1, self.k))
