"""Optional TensorBoard logging: the Trainer's scalars, resume purging, a missing package."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from quick_training import QuickConfig
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer
from siamreid.training.history import EpochRecord
from siamreid.training.loggers import tensorboard


def _scalars(log_dir: Path, tag: str) -> dict[int, float]:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {e.step: e.value for e in events.Scalars(tag)}


def _record(epoch: int, loss: float, **kw: object) -> EpochRecord:
    return EpochRecord(epoch, loss, {"triplet": loss / 2}, 1e-3, 10.0, 1.0, **kw)  # type: ignore[arg-type]


def test_trainer_writes_history_as_scalars(
    synthetic_splits: ReidSplits, tmp_path: Path, quick_config: QuickConfig
) -> None:
    torch.manual_seed(0)
    model = SiameseEmbedder(
        "resnet18",
        32,
        pretrained=False,
        num_classes=synthetic_splits.num_train_pids,
        input_size=(64, 32),
    )
    config = quick_config(tmp_path, epochs=2)
    history = Trainer(model, config).fit(synthetic_splits.train, synthetic_splits)
    log_dir = tmp_path / "tensorboard"
    train = _scalars(log_dir, "loss/train")
    assert train == pytest.approx({r.epoch: r.train_loss for r in history})
    assert _scalars(log_dir, "loss/train_id") == pytest.approx(
        {r.epoch: r.train_terms["id"] for r in history}
    )
    assert _scalars(log_dir, "val/mAP") == pytest.approx({r.epoch: r.mAP for r in history})


def test_resumed_run_purges_the_interrupted_epochs(tmp_path: Path) -> None:
    with tensorboard.TensorBoardLogger(tmp_path) as tb:
        for epoch, loss in [(1, 5.0), (2, 4.0), (3, 3.0)]:  # epoch 3 was never checkpointed
            tb.log(_record(epoch, loss))
    with tensorboard.TensorBoardLogger(tmp_path, first_epoch=3) as tb:
        tb.log(_record(3, 2.5))
    assert _scalars(tmp_path, "loss/train") == {1: 5.0, 2: 4.0, 3: 2.5}


def test_missing_values_are_left_out(tmp_path: Path) -> None:
    with tensorboard.TensorBoardLogger(tmp_path) as tb:
        tb.log(_record(1, float("nan"), mAP=0.5))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert "val/mAP" in tags
    assert "loss/train" not in tags  # NaN
    assert "loss/val" not in tags  # None: not validated


def test_explicit_request_without_the_package_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tensorboard, "tensorboard_available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'siamreid\[tensorboard\]'"):
        tensorboard.open_tensorboard(True, tmp_path)
    assert tensorboard.open_tensorboard(None, tmp_path) is None
    assert tensorboard.open_tensorboard(False, tmp_path) is None
    assert not any(tmp_path.iterdir())
