"""Optimizer and learning-rate schedule from a :class:`TrainerConfig`."""

from __future__ import annotations

import math

import torch
from torch import nn

from siamreid.training.config import TrainerConfig

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD over the trainable parameters; no weight decay on norms and biases."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adam(groups, lr=config.lr)


def lr_factor(epoch: int, config: TrainerConfig) -> float:
    """Multiplier of the peak learning rate for 0-based ``epoch``: warm-up, then decay."""
    if epoch < config.warmup_epochs:
        alpha = epoch / config.warmup_epochs
        return config.warmup_factor * (1 - alpha) + alpha
    if config.scheduler == "step":
        return float(config.gamma ** sum(epoch >= m for m in config.milestones))
    if config.scheduler == "cosine":
        span = max(1, config.epochs - config.warmup_epochs)
        progress = (epoch - config.warmup_epochs) / span
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainerConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-epoch schedule (call ``step()`` once per epoch)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: lr_factor(e, config))
