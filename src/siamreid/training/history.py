"""Per-epoch training records, kept in memory and appended to ``metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from siamreid._io import atomic_write_text

__all__ = ["EpochRecord", "EpochStats", "History"]


@dataclass(frozen=True)
class EpochStats:
    """What the training part of one epoch measured (the loop's half of an :class:`EpochRecord`).

    Attributes:
        loss: Mean weighted training loss over the epoch's finite steps.
        terms: Mean unweighted value of each loss term.
        images_per_second: Training throughput, all processes together.
        seconds: Wall time of the training part of the epoch.
    """

    loss: float
    terms: dict[str, float]
    images_per_second: float
    seconds: float


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch produced.

    Attributes:
        epoch: 1-based epoch number.
        train_loss: Mean weighted training loss.
        train_terms: Mean unweighted value of each loss term.
        lr: Learning rate the epoch trained with.
        images_per_second: Training throughput (images through forward and backward).
        epoch_seconds: Wall time of the training part of the epoch.
        skipped_batches: Batches skipped for a non-finite loss (``on_nan="skip_batch"``).
        val_loss: Mean metric-loss on held-out identities (``None`` when not validated).
        val_terms: Each metric term's value on held-out identities.
        rank1: Validation Rank-1.
        mAP: Validation mean average precision.
        mINP: Validation mean inverse negative penalty.
        triplet_accuracy: Fraction of held-out (anchor, positive, negative) triplets with
            d(a, p) < d(a, n).
    """

    epoch: int
    train_loss: float
    train_terms: dict[str, float]
    lr: float
    images_per_second: float
    epoch_seconds: float
    skipped_batches: int = 0
    val_loss: float | None = None
    val_terms: dict[str, float] = field(default_factory=dict)
    rank1: float | None = None
    mAP: float | None = None  # noqa: N815 - the field name every re-id paper uses
    mINP: float | None = None  # noqa: N815
    triplet_accuracy: float | None = None

    def describe(self, epochs: int | None = None) -> str:
        """The epoch's line, as ``siamreid train`` prints it: losses, lr, speed, validation.

        Example:
            >>> EpochRecord(3, 1.25, {"triplet": 0.5}, 3.5e-4, 410.0, 12.0).describe(10)
            'epoch 3/10  loss 1.2500 (triplet 0.5000)  lr 3.50e-04  410 img/s  12 s'
        """
        terms = ", ".join(f"{name} {value:.4f}" for name, value in self.train_terms.items())
        parts = [
            f"epoch {self.epoch}" + ("" if epochs is None else f"/{epochs}"),
            f"loss {self.train_loss:.4f}" + (f" ({terms})" if terms else ""),
            f"lr {self.lr:.2e}",
            f"{self.images_per_second:.0f} img/s",
            f"{self.epoch_seconds:.0f} s",
        ]
        if self.skipped_batches:
            parts.append(f"{self.skipped_batches} batches skipped")
        if self.val_loss is not None and math.isfinite(self.val_loss):
            parts.append(f"val loss {self.val_loss:.4f}")
        if self.rank1 is not None and self.mAP is not None:
            parts.append(f"val rank1 {self.rank1:.3f} mAP {self.mAP:.3f}")
        return "  ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite numbers become ``None``)."""
        return {k: _finite(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochRecord:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


class History:
    """The records of a run, in epoch order.

    Example:
        >>> history = trainer.fit(splits.train, splits)  # doctest: +SKIP
        >>> history[-1].mAP  # doctest: +SKIP
    """

    def __init__(self, records: list[EpochRecord] | None = None) -> None:
        self.records: list[EpochRecord] = list(records or [])

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> EpochRecord:
        return self.records[index]

    def append(self, record: EpochRecord, jsonl: Path | None = None) -> None:
        """Add a record, and append it as one JSON line to ``jsonl`` when given.

        An append, not an atomic replace: rewriting the whole log each epoch would cost more as
        it grows, and a killed append leaves at most a partial last line, which
        :meth:`read_jsonl` skips; a resume rewrites the file from the checkpoint's history.
        """
        self.records.append(record)
        if jsonl is not None:
            with open(jsonl, "a", encoding="utf-8") as fh:
                fh.write(_line(record))
                fh.flush()
                os.fsync(fh.fileno())

    def write_jsonl(self, jsonl: Path) -> None:
        """Replace ``jsonl`` with every record, one JSON line each (atomically)."""
        atomic_write_text(jsonl, "".join(_line(r) for r in self.records))

    def best(self) -> EpochRecord | None:
        """The validated epoch with the highest mAP (ties: the earlier), or ``None``."""
        scored = [r for r in self.records if r.mAP is not None and math.isfinite(r.mAP)]
        return max(scored, key=lambda r: r.mAP or 0.0, default=None)  # max keeps the first

    def column(self, name: str) -> list[float | None]:
        """One field across epochs, e.g. ``history.column("val_loss")``."""
        return [getattr(r, name) for r in self.records]

    def to_list(self) -> list[dict[str, Any]]:
        """All records as JSON-ready dicts."""
        return [r.to_dict() for r in self.records]

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]]) -> History:
        """Rebuild from :meth:`to_list` output."""
        return cls([EpochRecord.from_dict(row) for row in rows])

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike[str]) -> History:
        """Read a ``metrics.jsonl`` file; lines that are not a JSON object are skipped.

        Such a line is a torn last line (the run was killed mid-write), a blank line, or
        something else appended to the file by hand.
        """
        rows: list[dict[str, Any]] = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return cls.from_list(rows)


def _line(record: EpochRecord) -> str:
    """One record of ``metrics.jsonl``."""
    return json.dumps(record.to_dict()) + "\n"
