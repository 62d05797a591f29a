"""TensorBoard scalars of the per-epoch history (needs the ``tensorboard`` package)."""

from __future__ import annotations

import os
from typing import Any

from siamreid.errors import ConfigError
from siamreid.training.history import EpochRecord
from siamreid.training.loggers.base import installed, scalars

__all__ = ["TensorBoardLogger", "open_tensorboard", "tensorboard_available"]


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package, which ``torch.utils.tensorboard`` needs, is there."""
    return installed("tensorboard")


class TensorBoardLogger:
    """Writes each :class:`EpochRecord` as scalars, with the 1-based epoch as the step.

    Tags: the names of :func:`~siamreid.training.loggers.base.scalars` (``loss/train``,
    ``val/mAP``, ``train/lr``...).

    Args:
        log_dir: Folder of the event files.
        first_epoch: The epoch the run (re)starts from; events an interrupted run wrote for this
            epoch or later are purged, so a resumed run shows each epoch once.

    Example:
        >>> with TensorBoardLogger("runs/x/tensorboard") as tb:  # doctest: +SKIP
        ...     tb.log(history[-1])
    """

    def __init__(self, log_dir: str | os.PathLike[str], first_epoch: int = 1) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(log_dir), purge_step=first_epoch)

    def log(self, record: EpochRecord) -> None:
        """Add one epoch's numbers (``None`` and non-finite values are left out)."""
        for tag, value in scalars(record).items():
            self._writer.add_scalar(tag, value, record.epoch)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_tensorboard(
    setting: bool | None, log_dir: str | os.PathLike[str] | None, first_epoch: int = 1
) -> TensorBoardLogger | None:
    """The logger a :class:`~siamreid.OutputConfig` ``tensorboard`` setting asks for.

    Args:
        setting: ``None``: log when ``tensorboard`` is installed; ``True``: log, and fail if it
            is not; ``False``: never.
        log_dir: Where to write; ``None`` (a run without ``out_dir``) writes nothing.
        first_epoch: See :class:`TensorBoardLogger`.

    Raises:
        ConfigError: ``setting`` is ``True`` but ``tensorboard`` is not installed.
    """
    if setting is False or log_dir is None:
        return None
    if not tensorboard_available():
        if setting:
            raise ConfigError(
                "OutputConfig.tensorboard=True, but the 'tensorboard' package is not installed: "
                "pip install 'siamreid[tensorboard]' (or set tensorboard=None to log only when "
                "it is installed)."
            )
        return None
    return TensorBoardLogger(log_dir, first_epoch)
