"""The optimizer and the learning-rate schedule's shape: warm-up, then step, cosine or constant."""

from __future__ import annotations

import itertools

import pytest
import torch

from siamreid.training.config import OptimConfig, ScheduleConfig
from siamreid.training.optim import build_optimizer, build_scheduler


def _lrs(schedule: ScheduleConfig, *, epochs: int, lr: float = 1.0) -> list[float]:
    """The learning rate each 0-based epoch trains with, stepping the way the Trainer does."""
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, OptimConfig(lr=lr))
    scheduler = build_scheduler(optimizer, schedule, lr=lr, epochs=epochs)
    seen = []
    for epoch in range(epochs + 1):
        scheduler.step(epoch)
        seen.append(optimizer.param_groups[0]["lr"])
    return seen


def test_warmup_then_step_decay_after_each_milestone() -> None:
    schedule = ScheduleConfig(milestones=(40, 70), warmup_epochs=10, warmup_factor=0.01)
    lrs = _lrs(schedule, epochs=100)
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[5] == pytest.approx(0.01 * 0.5 + 0.5)
    assert lrs[10] == 1.0
    # Milestone m decays from 0-based epoch m, once m epochs are done (torch's MultiStepLR).
    assert lrs[39] == 1.0
    assert lrs[40] == pytest.approx(0.1)
    assert lrs[69] == pytest.approx(0.1)
    assert lrs[70] == pytest.approx(0.01)


def test_cosine_follows_warmup_and_reaches_zero_at_the_end() -> None:
    lrs = _lrs(ScheduleConfig(kind="cosine", warmup_epochs=0), epochs=20)
    assert lrs[0] == 1.0
    assert lrs[10] == pytest.approx(0.5)
    assert lrs[20] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in itertools.pairwise(lrs))
    warm = _lrs(ScheduleConfig(kind="cosine", warmup_epochs=2, warmup_factor=0.5), epochs=12)
    assert warm[:3] == pytest.approx([0.5, 0.75, 1.0])  # the cosine starts after warm-up
    assert warm[7] == pytest.approx(0.5)


def test_constant_schedule_after_warmup() -> None:
    schedule = ScheduleConfig(kind="constant", warmup_epochs=2, warmup_factor=0.5)
    lrs = _lrs(schedule, epochs=4, lr=0.1)
    assert lrs == pytest.approx([0.05, 0.075, 0.1, 0.1, 0.1])


def test_the_schedule_is_set_before_the_first_step() -> None:
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, OptimConfig(lr=0.2))
    build_scheduler(optimizer, ScheduleConfig(warmup_epochs=3, warmup_factor=0.1), lr=0.2, epochs=9)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)],
)
def test_no_weight_decay_on_norms_and_biases(kind: str, expected: type) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    optimizer = build_optimizer(model, OptimConfig(kind=kind, lr=0.1, weight_decay=5e-4))  # type: ignore[arg-type]
    assert type(optimizer) is expected
    decays = {g["weight_decay"] for g in optimizer.param_groups}
    assert decays == {5e-4, 0.0}
    no_decay = next(g for g in optimizer.param_groups if g["weight_decay"] == 0.0)
    decay = next(g for g in optimizer.param_groups if g["weight_decay"] > 0)
    assert all(p.ndim <= 1 for p in no_decay["params"])
    assert all(p.ndim > 1 for p in decay["params"])
    if kind == "sgd":
        assert optimizer.param_groups[0]["nesterov"] is True
        assert optimizer.param_groups[0]["momentum"] == 0.9
