"""What a run's checkpoint holds beyond the weights, and how a run picks up from it.

The :class:`~siamreid.Trainer` runs the loop; this module assembles the state it saves (the
optimizer, scheduler and grad-scaler states, the history, the skipped-batch count and the model
record) through :mod:`siamreid.training.checkpoint`, the one owner of the checkpoint format, and
restores it on resume after checking that the checkpoint was made for this architecture.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from timm.scheduler.scheduler import Scheduler
from torch import nn

from siamreid._io import atomic_write_json
from siamreid.errors import CheckpointError
from siamreid.models.embedder import SiameseEmbedder
from siamreid.training import checkpoint as ckpt
from siamreid.training.config import TrainerConfig
from siamreid.training.history import EpochRecord, History

__all__ = [
    "Resumed",
    "TrainState",
    "config_to_dict",
    "keep_if_best",
    "load_best",
    "model_meta",
    "resume_state",
    "save_state",
    "write_run_files",
]

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"
# Version of the training state's layout: 2 holds timm's scheduler state and timm's optimizer
# parameter groups (no-decay group first); 1 (no field) held torch's LambdaLR state.
STATE_VERSION = 2


@dataclass(frozen=True)
class TrainState:
    """The stateful training objects besides the model, saved and restored together.

    ``loss`` holds what the loss terms learn beside the model (ArcFace/CosFace class weights,
    centre-loss centres); it is saved in ``state.pt``, not in the model's weights.
    """

    optimizer: torch.optim.Optimizer
    scheduler: Scheduler
    scaler: torch.amp.GradScaler
    history: History
    loss: nn.Module | None = None


@dataclass(frozen=True)
class Resumed:
    """Where a resumed run continues: completed epochs, steps of the next epoch, its history."""

    epoch: int
    step: int
    history: History
    skipped_batches: int


def model_meta(model: SiameseEmbedder, epoch: int, step: int) -> dict[str, Any]:
    """The checkpoint's ``meta.json``: progress and the architecture it was made for."""
    cfg = model.config
    return {
        "epoch": epoch,
        "step": step,
        "backbone": cfg.backbone,
        "embedding_dim": cfg.embedding_dim,
        "num_classes": cfg.num_classes,
        "model_config": cfg.to_dict(),
    }


def save_state(
    out_dir: Path,
    model: SiameseEmbedder,
    state: TrainState,
    *,
    epoch: int,
    step: int,
    skipped_batches: int,
    keep: int,
) -> Path:
    """Save a checkpoint of the run in ``out_dir/checkpoints``; returns its folder."""
    train_state = {
        "state_version": STATE_VERSION,
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "skipped_batches": skipped_batches,
        "history": json.dumps(state.history.to_list()),
        "loss": {} if state.loss is None else state.loss.state_dict(),
    }
    return ckpt.save_checkpoint(
        out_dir / CHECKPOINTS,
        model_state=model.state_dict(),
        train_state=train_state,
        meta=model_meta(model, epoch, step),
        keep=keep,
    )


def resume_state(out_dir: Path, model: SiameseEmbedder, state: TrainState) -> Resumed | None:
    """Load the last complete checkpoint into ``model`` and ``state``.

    Returns:
        Where to continue, or ``None`` when ``out_dir`` has no checkpoint yet (a fresh start).

    Raises:
        CheckpointError: The checkpoint is corrupt, was made for another architecture or by
            an earlier siamreid.
    """
    latest = ckpt.find_latest(out_dir / CHECKPOINTS)
    if latest is None:
        log.info("resume=True but %s has no checkpoint yet: starting fresh.", out_dir)
        return None
    saved = ckpt.load_checkpoint(latest)
    ckpt.check_compatible(saved.meta, model_meta(model, 0, 0), latest)
    if saved.train_state.get("state_version", 1) != STATE_VERSION:
        raise CheckpointError(
            f"{str(latest)!r} was written by an earlier siamreid whose optimizer and schedule "
            "states this one cannot continue; start the run again in a new folder (the "
            "checkpoint's weights stay usable: model.safetensors in that folder)."
        )
    model.load_state_dict(saved.model_state)
    state.optimizer.load_state_dict(saved.train_state["optimizer"])
    state.scheduler.load_state_dict(saved.train_state["scheduler"])
    state.scaler.load_state_dict(saved.train_state["scaler"])
    _load_loss_state(state.loss, saved.train_state.get("loss", {}), latest)
    history = History.from_list(json.loads(saved.train_state["history"]))
    log.info("Resumed from %s (epoch %d, step %d).", latest, saved.epoch, saved.step)
    return Resumed(saved.epoch, saved.step, history, int(saved.train_state["skipped_batches"]))


def _load_loss_state(loss: nn.Module | None, saved: dict[str, Any], path: Path) -> None:
    if loss is None:
        return
    try:
        loss.load_state_dict(saved)
    except RuntimeError as err:
        raise CheckpointError(
            f"{str(path)!r} was made with other loss terms ({err}); resume with the run's own "
            "recipe, or start the run again in a new folder."
        ) from None


def keep_if_best(
    out_dir: Path, model: SiameseEmbedder, history: History, record: EpochRecord
) -> bool:
    """Save ``model`` as the best checkpoint when ``record`` beats every earlier epoch's mAP.

    Called before the epoch's own checkpoint: a run killed between the two replays the epoch
    on resume (bit for bit) and keeps it again, so ``best.json`` always names the best epoch
    of the checkpointed history.

    Returns:
        Whether ``record`` is the new best.
    """
    best = history.best()
    if record.mAP is None or (best is not None and not record.mAP > (best.mAP or 0.0)):
        return False
    meta = {**model_meta(model, record.epoch, 0), "mAP": record.mAP, "rank1": record.rank1}
    ckpt.save_best(out_dir / CHECKPOINTS, model_state=model.state_dict(), meta=meta)
    return True


def load_best(out_dir: Path, model: SiameseEmbedder) -> int:
    """Load the best checkpoint's weights (:func:`keep_if_best`) into ``model``.

    Returns:
        The epoch they are from.

    Raises:
        CheckpointError: There is no best checkpoint, or it is corrupt or of another model.
    """
    best = ckpt.find_best(out_dir / CHECKPOINTS)
    if best is None:
        raise CheckpointError(
            f"{str(out_dir / CHECKPOINTS)!r} holds no best checkpoint (best.json): the run was "
            "not validated with keep_best=True. Use the last weights instead."
        )
    saved = ckpt.load_checkpoint(best)
    ckpt.check_compatible(saved.meta, model_meta(model, 0, 0), best)
    model.load_state_dict(saved.model_state)
    return saved.epoch


def write_run_files(out_dir: Path, history: History, resolved: dict[str, Any]) -> None:
    """``metrics.jsonl`` from the (possibly resumed) history and ``config.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # metrics.jsonl always restarts from the checkpoint's history: a run killed between
    # appending a line and saving its checkpoint must not get that epoch twice.
    history.write_jsonl(out_dir / "metrics.jsonl")
    atomic_write_json(out_dir / "config.json", resolved)


def config_to_dict(config: TrainerConfig) -> dict[str, Any]:
    """JSON-ready fields of a :class:`TrainerConfig`."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(config), default=list))
    return data
