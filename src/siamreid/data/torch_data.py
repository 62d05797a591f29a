"""Torch datasets over :class:`~siamreid.data.ReidSample` lists, and the image loading policy."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch.utils.data import Dataset

from siamreid.data.images import load_image
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError, ImageLoadError

__all__ = [
    "BadImagePolicy",
    "ReidImageDataset",
    "TripletDataset",
    "apply_bad_image_policy",
    "readable_samples",
    "unreadable_images",
]

logger = logging.getLogger(__name__)

BadImagePolicy = Literal["raise", "skip"]
ImageTransform = Callable[[Image.Image], torch.Tensor]


class ReidImageDataset(Dataset[tuple[torch.Tensor, int, int]]):
    """Images of re-id samples as ``(image, pid, camid)``, ``camid = -1`` when unknown.

    Images are decoded in full with PIL (so a truncated file fails here) and converted to RGB.

    Args:
        samples: The samples to load, in order.
        transform: PIL image to tensor (see :func:`~siamreid.data.build_eval_transform`).
        on_bad_image: ``"raise"``: an unreadable file raises :class:`ImageLoadError`.
            ``"skip"``: it is logged once and replaced by the next readable sample of the same
            identity (in ``samples`` order, wrapping around), or failing that by the next
            readable sample, so batches keep their size and, where possible, their labels.
            The replacement is fine for training but would score another image under the
            missing one's label in evaluation: to leave files out of query and gallery, use
            :func:`apply_bad_image_policy` on the splits instead.

    Attributes:
        num_skipped: Distinct unreadable files met *by this process*. DataLoader workers hold
            copies of the dataset, so with ``num_workers > 0`` the main process's count stays 0;
            read the log (one warning per file and process) or iterate once with
            ``num_workers=0`` to count them.

    Example:
        >>> ds = ReidImageDataset(splits.query, model.eval_transform)  # doctest: +SKIP
        >>> image, pid, camid = ds[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        samples: Sequence[ReidSample],
        transform: ImageTransform,
        on_bad_image: BadImagePolicy = "raise",
    ) -> None:
        if on_bad_image not in ("raise", "skip"):
            raise ConfigError(f"on_bad_image is {on_bad_image!r}; expected 'raise' or 'skip'.")
        self.samples = list(samples)
        self.transform = transform
        self.on_bad_image = on_bad_image
        self._bad: set[int] = set()

    @property
    def num_skipped(self) -> int:
        """Distinct unreadable files met by this process (see the class docstring)."""
        return len(self._bad)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        if index not in self._bad:
            item = self._load(index)
            if item is not None:
                return item
        for candidate in self._candidates(index):
            item = self._load(candidate)
            if item is not None:
                return item
        raise ImageLoadError(
            f"No readable image among the {len(self.samples)} samples (first: "
            f"{str(self.samples[0].path)!r}); check the dataset files."
        )

    def _load(self, index: int) -> tuple[torch.Tensor, int, int] | None:
        """Item ``index``, or ``None`` (marked bad) when unreadable under the skip policy."""
        sample = self.samples[index]
        try:
            image = load_image(sample.path)
        except ImageLoadError:
            if self.on_bad_image == "raise":
                raise
            self._mark_bad(index)
            return None
        camid = -1 if sample.camid is None else sample.camid
        return self.transform(image), sample.pid, camid

    def _candidates(self, index: int) -> list[int]:
        """``index``, then same-identity samples after it, then all others after it."""
        n = len(self.samples)
        order = [(index + step) % n for step in range(n)]
        pid = self.samples[index].pid
        same = [i for i in order if self.samples[i].pid == pid]
        others = [i for i in order if self.samples[i].pid != pid]
        return [i for i in (*same, *others) if i not in self._bad]

    def _mark_bad(self, index: int) -> None:
        self._bad.add(index)
        logger.warning(
            "Skipping unreadable image %s (%d skipped so far in this process).",
            self.samples[index].path,
            len(self._bad),
        )


class TripletDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]]):
    """The classic Siamese formulation: item ``i`` is the triplet anchored on sample ``i``.

    The positive is another image of the anchor's identity from another camera when one exists,
    else from the same camera, else the anchor image itself (an identity with one image). The
    negative is an image of an identity drawn uniformly among the others. The choice depends
    only on ``(seed, epoch, i)``, so DataLoader workers and processes agree.

    Args:
        samples: Training samples (at least two identities).
        transform: PIL image to tensor, applied to each of the three images.
        seed: Seed of the triplet choice.

    Raises:
        DatasetLayoutError: Fewer than two identities.

    Example:
        >>> ds = TripletDataset(splits.train, train_transform, seed=0)  # doctest: +SKIP
        >>> anchor, positive, negative, pid_a, pid_n = ds[0]  # doctest: +SKIP
    """

    def __init__(self, samples: Sequence[ReidSample], transform: ImageTransform, seed: int = 0):
        self.samples = list(samples)
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        by_pid: dict[int, list[int]] = defaultdict(list)
        for i, sample in enumerate(self.samples):
            by_pid[sample.pid].append(i)
        if len(by_pid) < 2:
            raise DatasetLayoutError(
                f"TripletDataset needs images of at least two identities to draw negatives, got "
                f"{len(by_pid)} identity among {len(self.samples)} samples; pass the train split."
            )
        self._pids = np.asarray(sorted(by_pid), dtype=np.int64)
        self._by_pid = {pid: np.asarray(ix, dtype=np.int64) for pid, ix in by_pid.items()}
        self._cams = np.asarray([-1 if s.camid is None else s.camid for s in self.samples])

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's triplets (call before each epoch, as with DistributedSampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def triplet(self, index: int) -> tuple[int, int, int]:
        """Sample indices ``(anchor, positive, negative)`` of item ``index`` this epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        anchor = self.samples[index]
        same = self._by_pid[anchor.pid]
        others = same[same != index]
        if len(others):
            cross = others[self._cams[others] != self._cams[index]]
            pool: npt.NDArray[np.int64] = (
                cross if len(cross) and anchor.camid is not None else others
            )
            positive = int(rng.choice(pool))
        else:
            positive = index
        negative_pids = self._pids[self._pids != anchor.pid]
        negative = int(rng.choice(self._by_pid[int(rng.choice(negative_pids))]))
        return index, positive, negative

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
        a, p, n = self.triplet(index)
        images = [self.transform(load_image(self.samples[i].path)) for i in (a, p, n)]
        return images[0], images[1], images[2], self.samples[a].pid, self.samples[n].pid


def unreadable_images(
    paths: Sequence[str | os.PathLike[str]], *, workers: int | None = None
) -> dict[Path, str]:
    """Decode every image in ``paths`` once; the unreadable ones, each with the reason.

    Args:
        paths: Image files (duplicates are decoded once).
        workers: Decoding threads (Pillow releases the GIL); ``None``: the usable cores, at
            most 8.

    Example:
        >>> bad = unreadable_images(paths)  # doctest: +SKIP
        >>> kept = [p for p in paths if Path(p) not in bad]  # doctest: +SKIP
    """
    unique = sorted({Path(p) for p in paths})
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        workers = min(8, cores or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        reasons = pool.map(_unreadable_reason, unique)
        return {path: reason for path, reason in zip(unique, reasons, strict=True) if reason}


def readable_samples(
    samples: Sequence[ReidSample], *, workers: int | None = None
) -> tuple[list[ReidSample], list[tuple[Path, str]]]:
    """The samples whose image decodes (in order), and ``(path, reason)`` for the others.

    Args:
        samples: The samples to check.
        workers: Decoding threads, as for :func:`unreadable_images`.
    """
    bad = unreadable_images([s.path for s in samples], workers=workers)
    kept = [s for s in samples if Path(s.path) not in bad]
    return kept, sorted(bad.items())


def _unreadable_reason(path: Path) -> str | None:
    try:
        load_image(path)
    except ImageLoadError as err:
        return str(err)
    return None


def apply_bad_image_policy(
    splits: ReidSplits, on_bad_image: BadImagePolicy, *, workers: int | None = None
) -> ReidSplits:
    """Apply the ``on_bad_image`` policy of a :class:`~siamreid.data.DataConfig` to splits.

    ``"raise"`` returns ``splits`` as they are: an unreadable image raises
    :class:`ImageLoadError` (naming the file) when training or evaluation reads it.
    ``"skip"`` decodes every image once, now, and drops unreadable ones from ``train``,
    ``query`` and ``gallery`` (a query or gallery image is never replaced by another one, which
    would score the wrong image under its label). Training identities left without images are
    dropped and the others relabelled ``0..T-1`` in their order. Each skipped file is logged as
    a warning and the count is added to the splits' notes.

    Example:
        >>> splits = apply_bad_image_policy(load_splits(config), config.on_bad_image)
        ... # doctest: +SKIP
    """
    if on_bad_image not in ("raise", "skip"):
        raise ConfigError(f"on_bad_image is {on_bad_image!r}; expected 'raise' or 'skip'.")
    if on_bad_image == "raise":
        return splits
    everything = [*splits.train, *splits.query, *splits.gallery]
    _, bad = readable_samples(everything, workers=workers)
    if not bad:
        return splits
    for path, reason in bad:
        logger.warning("Skipping unreadable image %s: %s", path, reason)
    dropped = {path for path, _ in bad}
    train = [s for s in splits.train if s.path not in dropped]
    labels = {pid: i for i, pid in enumerate(sorted({s.pid for s in train}))}
    note = (
        f"{len(bad)} unreadable image(s) skipped (on_bad_image='skip'), first: {str(bad[0][0])!r}."
    )
    return dataclasses.replace(
        splits,
        train=[dataclasses.replace(s, pid=labels[s.pid]) for s in train],
        query=[s for s in splits.query if s.path not in dropped],
        gallery=[s for s in splits.gallery if s.path not in dropped],
        notes=(*splits.notes, note),
    )
