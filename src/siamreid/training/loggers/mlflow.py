"""MLflow tracking of the per-epoch history, through MLflow's own client (``siamreid[mlflow]``).

Where runs go is MLflow's business: ``MLFLOW_TRACKING_URI`` (a tracking server, or a local
store), as for any MLflow client. Nothing is logged through MLflow's global active run.
"""

from __future__ import annotations

import time
from typing import Any

from siamreid.training.history import EpochRecord
from siamreid.training.loggers.base import import_tracker, scalars

__all__ = ["MLflowLogger"]

_MAX_PARAM = 6000  # MLflow's longest parameter value


class MLflowLogger:
    """Logs each :class:`EpochRecord` as MLflow metrics, with the 1-based epoch as the step.

    Args:
        experiment: The MLflow experiment (made when it does not exist).
        run_name: The run's name in the MLflow UI.
        run_id: Continue this run (a resumed training run) instead of starting one.
        params: The run's settings, logged once as ``section.field`` parameters.

    Raises:
        ConfigError: ``mlflow`` is not installed (the message names the extra).

    Example:
        >>> logger = MLflowLogger("siamreid", "bot-r50")  # doctest: +SKIP
        >>> logger.log(history[-1]); logger.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        experiment: str,
        run_name: str,
        run_id: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        tracking = import_tracker("mlflow", "mlflow")
        self._entities = import_tracker("mlflow", "mlflow.entities")
        self._client = tracking.MlflowClient()
        if run_id is None:
            found = self._client.get_experiment_by_name(experiment)
            experiment_id = (
                found.experiment_id if found else self._client.create_experiment(experiment)
            )
            run_id = self._client.create_run(experiment_id, run_name=run_name).info.run_id
            pairs = _flatten(params or {})
            self._client.log_batch(
                run_id, params=[self._entities.Param(k, v) for k, v in pairs.items()]
            )
        else:
            self._client.update_run(run_id, status="RUNNING")
        self.run_id: str = run_id

    def log(self, record: EpochRecord) -> None:
        """Add one epoch's metrics."""
        now = int(time.time() * 1000)
        metrics = [
            self._entities.Metric(key, value, now, record.epoch)
            for key, value in scalars(record).items()
        ]
        self._client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        """Mark the run finished."""
        self._client.set_terminated(self.run_id)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optim": {"lr": 1e-3}}`` as ``{"optim.lr": "0.001"}`` (long values cut to fit)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:_MAX_PARAM]
    return out
