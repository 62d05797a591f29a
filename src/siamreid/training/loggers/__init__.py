"""Experiment trackers of a training run: TensorBoard, MLflow and Weights & Biases.

Each tracker is one module around its own library and installs with its extra
(``siamreid[tensorboard]``, ``[mlflow]``, ``[wandb]``); none is imported unless asked for.
:func:`open_loggers` opens what an :class:`~siamreid.OutputConfig` asks for and keeps each
tracker's run id in ``out_dir/trackers.json``, so a resumed training run logs into the same
MLflow or W&B run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from siamreid._io import atomic_write_json
from siamreid.errors import ConfigError
from siamreid.training.config import OutputConfig
from siamreid.training.loggers.base import RunLogger, import_tracker, scalars
from siamreid.training.loggers.mlflow import MLflowLogger
from siamreid.training.loggers.tensorboard import TensorBoardLogger, open_tensorboard
from siamreid.training.loggers.wandb import WandbLogger

__all__ = [
    "MLflowLogger",
    "RunLogger",
    "TensorBoardLogger",
    "WandbLogger",
    "open_loggers",
    "scalars",
]

RUN_IDS = "trackers.json"


def open_loggers(
    output: OutputConfig,
    out_dir: Path | None,
    *,
    first_epoch: int = 1,
    run_config: dict[str, Any] | None = None,
) -> list[RunLogger]:
    """The trackers ``output`` asks for: TensorBoard by its ``tensorboard`` setting, then each
    of ``output.trackers``.

    Args:
        output: The run's output settings.
        out_dir: The training folder; ``None`` logs nothing (and refuses ``trackers``).
        first_epoch: The epoch the run (re)starts from.
        run_config: The resolved settings, logged as the MLflow parameters / W&B config.

    Raises:
        ConfigError: A tracker's package is missing (the message names the extra), or
            ``trackers`` is given without ``out_dir``.
    """
    if out_dir is None:
        if output.trackers:
            raise ConfigError(
                f"OutputConfig.trackers={list(output.trackers)} needs out_dir, where the runs' "
                "ids are kept; set OutputConfig.out_dir."
            )
        return []
    for tracker in output.trackers:  # every package is there before any run is started
        if tracker != "tensorboard":
            import_tracker(tracker, tracker)
    asked = "tensorboard" in output.trackers or output.tensorboard
    loggers: list[RunLogger] = []
    tensorboard = open_tensorboard(asked, out_dir / "tensorboard", first_epoch)
    if tensorboard is not None:
        loggers.append(tensorboard)
    ids = _read_ids(out_dir) if output.resume else {}
    name = output.run_name or out_dir.name
    if "mlflow" in output.trackers:
        ml = MLflowLogger(output.experiment, name, ids.get("mlflow"), run_config)
        ids["mlflow"] = ml.run_id
        loggers.append(ml)
    if "wandb" in output.trackers:
        wb = WandbLogger(output.experiment, name, out_dir, ids.get("wandb"), run_config)
        ids["wandb"] = wb.run_id
        loggers.append(wb)
    if ids:
        atomic_write_json(out_dir / RUN_IDS, ids)
    return loggers


def _read_ids(out_dir: Path) -> dict[str, str]:
    path = out_dir / RUN_IDS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
