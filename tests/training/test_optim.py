"""The learning-rate schedule: warm-up, then step or cosine decay."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from siamreid.training.config import TrainerConfig
from siamreid.training.optim import build_optimizer, build_scheduler, lr_factor


def test_warmup_then_step_decay() -> None:
    cfg = TrainerConfig(epochs=100, warmup_epochs=10, warmup_factor=0.01, milestones=(40, 70))
    assert lr_factor(0, cfg) == pytest.approx(0.01)
    assert lr_factor(5, cfg) == pytest.approx(0.01 * 0.5 + 0.5)
    assert lr_factor(10, cfg) == 1.0
    assert lr_factor(39, cfg) == 1.0
    assert lr_factor(40, cfg) == pytest.approx(0.1)
    assert lr_factor(70, cfg) == pytest.approx(0.01)


def test_cosine_reaches_zero_at_the_end() -> None:
    cfg = TrainerConfig(epochs=20, warmup_epochs=0, scheduler="cosine")
    assert lr_factor(0, cfg) == 1.0
    assert lr_factor(10, cfg) == pytest.approx(0.5)
    assert lr_factor(20, cfg) == pytest.approx(0.0, abs=1e-12)
    values = [lr_factor(e, cfg) for e in range(21)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_scheduler_drives_optimizer_and_skips_decay_on_norms() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    cfg = TrainerConfig(epochs=4, lr=0.1, warmup_epochs=2, warmup_factor=0.5, scheduler="constant")
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.05, 0.075, 0.1, 0.1])
    decays = {g["weight_decay"] for g in opt.param_groups}
    assert decays == {cfg.weight_decay, 0.0}
    no_decay = next(g for g in opt.param_groups if g["weight_decay"] == 0.0)
    assert all(p.ndim <= 1 for p in no_decay["params"])
    assert not math.isnan(seen[-1])
