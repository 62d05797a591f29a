"""A run's training state: saved with the weights, restored on resume, refused if it cannot fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siamreid.errors import CheckpointError
from siamreid.models import SiameseEmbedder
from siamreid.training import checkpoint as ckpt
from siamreid.training.config import OptimConfig, ScheduleConfig
from siamreid.training.history import EpochRecord, History
from siamreid.training.optim import build_optimizer, build_scheduler
from siamreid.training.state import (
    CHECKPOINTS,
    TrainState,
    model_meta,
    resume_state,
    save_state,
)


def _parts(seed: int) -> tuple[SiameseEmbedder, TrainState]:
    model = SiameseEmbedder("test_resnet", 8, pretrained=False, input_size=(32, 16), seed=seed)
    optimizer = build_optimizer(model, OptimConfig(lr=0.1))
    scheduler = build_scheduler(
        optimizer, ScheduleConfig(kind="cosine", warmup_epochs=1), lr=0.1, epochs=6
    )
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return model, TrainState(optimizer, scheduler, scaler, History())


def _step(model: SiameseEmbedder, state: TrainState) -> None:
    loss = model(torch.rand(2, 3, 32, 16)).square().sum()
    loss.backward()
    state.optimizer.step()
    state.optimizer.zero_grad()


def test_resume_restores_weights_optimizer_and_history(tmp_path: Path) -> None:
    model, state = _parts(seed=0)
    state.scheduler.step(3)
    _step(model, state)
    state.history.append(EpochRecord(3, 0.5, {"triplet": 0.5}, 0.1, 10.0, 1.0))
    save_state(tmp_path, model, state, epoch=3, step=2, skipped_batches=1, keep=2)

    fresh, restored = _parts(seed=1)
    resumed = resume_state(tmp_path, fresh, restored)
    assert resumed is not None
    assert (resumed.epoch, resumed.step, resumed.skipped_batches) == (3, 2, 1)
    assert [r.train_loss for r in resumed.history] == [0.5]
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert (
        restored.optimizer.state_dict()["state"].keys()
        == state.optimizer.state_dict()["state"].keys()
    )
    assert restored.optimizer.param_groups[0]["lr"] == state.optimizer.param_groups[0]["lr"]


def test_a_fresh_folder_starts_from_scratch(tmp_path: Path) -> None:
    model, state = _parts(seed=0)
    assert resume_state(tmp_path, model, state) is None


def test_a_checkpoint_of_the_earlier_state_layout_is_refused_by_name(tmp_path: Path) -> None:
    model, state = _parts(seed=0)
    # What siamreid wrote before the scheduler came from timm: no state_version field.
    earlier = {
        "optimizer": state.optimizer.state_dict(),
        "scheduler": {"base_lrs": [0.1], "last_epoch": 2},
        "scaler": state.scaler.state_dict(),
        "skipped_batches": 0,
        "history": "[]",
    }
    folder = ckpt.save_checkpoint(
        tmp_path / CHECKPOINTS,
        model_state=model.state_dict(),
        train_state=earlier,
        meta=model_meta(model, epoch=2, step=0),
    )
    with pytest.raises(CheckpointError, match=r"earlier siamreid.*new folder") as err:
        resume_state(tmp_path, model, state)
    assert str(folder) in str(err.value)
