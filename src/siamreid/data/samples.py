"""Plain data describing a re-id dataset: samples and their train/query/gallery split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["ReidSample", "ReidSplits"]


@dataclass(frozen=True)
class ReidSample:
    """One image of one person.

    Attributes:
        path: Image file.
        pid: Person identity. Train pids are relabelled ``0..N-1``; query/gallery pids keep the
            dataset's own numbers (``0`` marks a Market-1501 distractor).
        camid: 0-based camera index, or ``None`` when the dataset has no camera information.
    """

    path: Path
    pid: int
    camid: int | None


def _pids(samples: Sequence[ReidSample]) -> npt.NDArray[np.int64]:
    return np.asarray([s.pid for s in samples], dtype=np.int64)


def _camids(samples: Sequence[ReidSample]) -> npt.NDArray[np.int64] | None:
    if not samples or any(s.camid is None for s in samples):
        return None
    return np.asarray([s.camid for s in samples], dtype=np.int64)


@dataclass(frozen=True)
class ReidSplits:
    """The three splits of a re-id dataset, as every adapter returns them.

    Attributes:
        train: Training images, pids relabelled ``0..num_train_pids-1``.
        query: Query images (original pids).
        gallery: Gallery images (original pids; distractors kept).
        name: Dataset name shown in :meth:`summary`.
    """

    train: list[ReidSample]
    query: list[ReidSample]
    gallery: list[ReidSample]
    name: str = "dataset"
    notes: tuple[str, ...] = field(default=())

    @property
    def num_train_pids(self) -> int:
        """Number of training identities (the classifier width for an identity loss)."""
        return len({s.pid for s in self.train})

    @property
    def has_cameras(self) -> bool:
        """Whether every query and gallery sample carries a camera id."""
        return all(s.camid is not None for s in (*self.query, *self.gallery))

    @staticmethod
    def pids(samples: Sequence[ReidSample]) -> npt.NDArray[np.int64]:
        """The identities of ``samples`` as an int64 array."""
        return _pids(samples)

    @staticmethod
    def camids(samples: Sequence[ReidSample]) -> npt.NDArray[np.int64] | None:
        """The camera ids of ``samples``, or ``None`` if any sample has none."""
        return _camids(samples)

    def summary(self) -> str:
        """A table of identities, images and cameras per split, as torchreid prints it."""
        lines = [
            f"=> {self.name} loaded",
            "  ----------------------------------------",
            "  subset   | # ids | # images | # cameras",
            "  ----------------------------------------",
        ]
        for split_name, samples in (
            ("train", self.train),
            ("query", self.query),
            ("gallery", self.gallery),
        ):
            ids = len({s.pid for s in samples})
            cams = {s.camid for s in samples if s.camid is not None}
            cam_text = str(len(cams)) if cams else "n/a"
            lines.append(f"  {split_name:<8} | {ids:5d} | {len(samples):8d} | {cam_text:>9}")
        lines.append("  ----------------------------------------")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)
