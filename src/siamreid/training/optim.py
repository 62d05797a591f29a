"""Optimizer and learning-rate schedule from timm's factories.

``create_optimizer_v2`` builds Adam, AdamW or SGD with no weight decay on norms and biases;
``create_scheduler_v2`` builds the per-epoch schedule (linear warm-up, then step, cosine or
constant). The schedule is a function of the epoch: call ``scheduler.step(epoch)`` before each
0-based ``epoch``, as timm's training script does.
"""

from __future__ import annotations

import torch
from timm.optim import create_optimizer_v2  # type: ignore[attr-defined]
from timm.scheduler import create_scheduler_v2  # type: ignore[attr-defined]
from timm.scheduler.scheduler import Scheduler
from torch import nn

from siamreid.training.config import OptimConfig, ScheduleConfig

__all__ = ["build_optimizer", "build_scheduler"]

_TIMM_SCHEDULES = {"step": "multistep", "cosine": "cosine", "constant": "constant"}


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (Nesterov) over ``model``'s trainable parameters.

    Parameters with at most one dimension (norms, biases) get no weight decay.
    """
    return create_optimizer_v2(
        model,
        opt=config.kind,  # timm's "sgd" is SGD with Nesterov momentum
        lr=config.lr,
        weight_decay=config.weight_decay,
        momentum=config.momentum,
        filter_bias_and_bn=True,
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: ScheduleConfig, *, lr: float, epochs: int
) -> Scheduler:
    """The per-epoch schedule for a run of ``epochs`` epochs with peak learning rate ``lr``.

    Warm-up goes linearly from ``warmup_factor * lr`` over ``warmup_epochs``; then ``"step"``
    multiplies by ``gamma`` once ``m`` epochs are done for each milestone ``m`` (the convention
    of ``torch.optim.lr_scheduler.MultiStepLR``), ``"cosine"`` decays to zero at the last epoch
    and ``"constant"`` holds ``lr``.
    """
    kind = _TIMM_SCHEDULES[config.kind]
    warmup_prefix = kind == "cosine"  # the cosine spans the epochs after warm-up
    scheduler: Scheduler
    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=kind,
        num_epochs=max(1, epochs - config.warmup_epochs) if warmup_prefix else epochs,
        # timm applies milestone m from epoch m - 1; siamreid's milestone m from epoch m.
        decay_milestones=[m + 1 for m in config.milestones],
        decay_rate=config.gamma,
        min_lr=0.0,
        warmup_lr=config.warmup_factor * lr,
        warmup_epochs=config.warmup_epochs,
        warmup_prefix=warmup_prefix,
    )
    return scheduler
