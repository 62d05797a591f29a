"""Weights & Biases tracking of the per-epoch history through ``wandb`` (``siamreid[wandb]``).

Where runs go is W&B's business: ``WANDB_MODE=offline`` keeps them on disk (``wandb sync``
uploads them later), ``WANDB_API_KEY`` / ``wandb login`` for the service, as for any W&B run.
"""

from __future__ import annotations

import os
from typing import Any

from siamreid.training.history import EpochRecord
from siamreid.training.loggers.base import import_tracker, scalars

__all__ = ["WandbLogger"]


class WandbLogger:
    """Logs each :class:`EpochRecord` to a W&B run, with the 1-based epoch as the step.

    Args:
        project: The W&B project.
        run_name: The run's display name.
        log_dir: Where W&B keeps its files (``log_dir/wandb``).
        run_id: Continue this run (a resumed training run) instead of starting one.
        config: The run's settings (W&B's run config).

    Raises:
        ConfigError: ``wandb`` is not installed (the message names the extra).

    Example:
        >>> logger = WandbLogger("siamreid", "bot-r50", "runs/bot/train")  # doctest: +SKIP
    """

    def __init__(
        self,
        project: str,
        run_name: str,
        log_dir: str | os.PathLike[str],
        run_id: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        wandb = import_tracker("wandb", "wandb")
        self._run = wandb.init(
            project=project,
            name=run_name,
            dir=str(log_dir),
            id=run_id,
            resume="allow" if run_id else None,
            config=config,
            reinit="create_new",  # a run object of its own, not wandb's global one
        )
        self.run_id: str = str(self._run.id)

    def log(self, record: EpochRecord) -> None:
        """Add one epoch's numbers."""
        self._run.log(scalars(record), step=record.epoch)

    def close(self) -> None:
        """Finish the run (an offline run's files are complete after this)."""
        self._run.finish()
