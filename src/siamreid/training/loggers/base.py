"""What every experiment tracker shares: the logger protocol, the scalar names, the import."""

from __future__ import annotations

import importlib
import importlib.util
import math
from typing import Any, Protocol

from siamreid.errors import ConfigError
from siamreid.training.history import EpochRecord

__all__ = ["RunLogger", "import_tracker", "installed", "scalars"]


class RunLogger(Protocol):
    """Receives each epoch's record; :func:`~siamreid.training.loggers.open_loggers` opens them.

    A tracker is a small class around its own library (TensorBoard's ``SummaryWriter``,
    MLflow's ``MlflowClient``, ``wandb.init``'s run): ``log`` adds one epoch's numbers with the
    1-based epoch as the step, ``close`` flushes and ends the run.
    """

    def log(self, record: EpochRecord) -> None:
        """Add one epoch's numbers."""

    def close(self) -> None:
        """Flush and end the run."""


def scalars(record: EpochRecord) -> dict[str, float]:
    """The record's finite numbers under the trackers' names (``None`` and NaN left out).

    Names: ``loss/train``, ``loss/train_<term>``, ``loss/val``, ``loss/val_<term>``,
    ``val/rank1``, ``val/mAP``, ``val/mINP``, ``val/triplet_accuracy``, ``train/lr``,
    ``train/images_per_second``, ``train/epoch_seconds`` and ``train/skipped_batches``.
    """
    values: dict[str, float | None] = {
        "loss/train": record.train_loss,
        "loss/val": record.val_loss,
        "val/rank1": record.rank1,
        "val/mAP": record.mAP,
        "val/mINP": record.mINP,
        "val/triplet_accuracy": record.triplet_accuracy,
        "train/lr": record.lr,
        "train/images_per_second": record.images_per_second,
        "train/epoch_seconds": record.epoch_seconds,
        "train/skipped_batches": float(record.skipped_batches),
    }
    values.update({f"loss/train_{k}": v for k, v in record.train_terms.items()})
    values.update({f"loss/val_{k}": v for k, v in record.val_terms.items()})
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def installed(package: str) -> bool:
    """Whether ``package`` can be imported here (without importing it)."""
    return importlib.util.find_spec(package) is not None


def import_tracker(tracker: str, package: str) -> Any:
    """The tracker's library, or one clear error naming the extra that installs it.

    Raises:
        ConfigError: ``package`` is not installed.
    """
    if not installed(package):
        raise ConfigError(
            f"OutputConfig.trackers asks for {tracker!r}, but the {package!r} package is not "
            f"installed: pip install 'siamreid[{tracker}]' (or drop {tracker!r} from "
            "trainer.output.trackers)."
        )
    return importlib.import_module(package)
