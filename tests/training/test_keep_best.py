"""output.keep_best: the best validated epoch's weights are kept beside the latest, without
changing the training, and stay right across a resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from quick_training import QuickConfig
from siamreid.data.samples import ReidSplits
from siamreid.errors import CheckpointError, ConfigError
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer, TrainerConfig
from siamreid.training.checkpoint import find_best, save_best
from siamreid.training.history import EpochRecord, History


def _model(splits: ReidSplits) -> SiameseEmbedder:
    torch.manual_seed(0)
    return SiameseEmbedder(
        "test_resnet", 16, pretrained=False, num_classes=splits.num_train_pids, input_size=(64, 32)
    )


def _config(quick_config: QuickConfig, out: Path, epochs: int, **output: object) -> TrainerConfig:
    config = quick_config(out, epochs=epochs, steps=2)
    return replace(
        config,
        optim=replace(config.optim, lr=0.02),
        output=replace(config.output, keep_best=True, keep_checkpoints=10, **output),
    )


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_history_best_is_the_highest_map_and_the_earlier_of_a_tie() -> None:
    def record(epoch: int, value: float | None) -> EpochRecord:
        return EpochRecord(epoch, 1.0, {}, 1e-3, 1.0, 1.0, mAP=value)

    history = History([record(1, 0.2), record(2, None), record(3, 0.5), record(4, 0.5)])
    best = history.best()
    assert best is not None
    assert best.epoch == 3
    assert History([record(1, None)]).best() is None


def test_the_best_epoch_is_kept_and_loaded_and_training_is_unchanged(
    synthetic_splits: ReidSplits, tmp_path: Path, quick_config: QuickConfig
) -> None:
    config = _config(quick_config, tmp_path / "best", 3)
    model = _model(synthetic_splits)
    trainer = Trainer(model, config)
    history = trainer.fit(synthetic_splits.train, synthetic_splits)
    checkpoints = tmp_path / "best" / "checkpoints"
    best = history.best()
    assert best is not None
    pointer = json.loads((checkpoints / "best.json").read_text("utf-8"))
    assert pointer["epoch"] == best.epoch
    assert pointer["mAP"] == pytest.approx(best.mAP)
    assert [p.name for p in checkpoints.glob("best_*")] == [pointer["path"]]
    kept = _weights(checkpoints / pointer["path"])
    assert _equal(kept, _weights(checkpoints / f"epoch_{best.epoch:04d}"))

    plain = replace(config, output=replace(config.output, keep_best=False, out_dir=None))
    other = _model(synthetic_splits)
    Trainer(other, plain).fit(synthetic_splits.train, synthetic_splits)
    assert _equal(model.state_dict(), other.state_dict())  # keeping the best changed nothing

    assert trainer.load_best() == best.epoch
    assert _equal(model.state_dict(), kept)


def test_a_resumed_run_keeps_the_same_best_as_an_uninterrupted_one(
    synthetic_splits: ReidSplits, tmp_path: Path, quick_config: QuickConfig
) -> None:
    whole = _config(quick_config, tmp_path / "whole", 3)
    Trainer(_model(synthetic_splits), whole).fit(synthetic_splits.train, synthetic_splits)
    part = _config(quick_config, tmp_path / "part", 2)
    Trainer(_model(synthetic_splits), part).fit(synthetic_splits.train, synthetic_splits)
    rest = _config(quick_config, tmp_path / "part", 3, resume=True)
    Trainer(_model(synthetic_splits), rest).fit(synthetic_splits.train, synthetic_splits)

    best_whole = find_best(tmp_path / "whole" / "checkpoints")
    best_part = find_best(tmp_path / "part" / "checkpoints")
    assert best_whole is not None
    assert best_part is not None
    assert best_whole.name == best_part.name
    assert _equal(_weights(best_whole), _weights(best_part))


def test_keep_best_needs_validation_and_a_folder(
    synthetic_splits: ReidSplits, tmp_path: Path, quick_config: QuickConfig
) -> None:
    trainer = Trainer(_model(synthetic_splits), _config(quick_config, tmp_path, 1))
    with pytest.raises(ConfigError, match="keep_best=True keeps the best validated epoch"):
        trainer.fit(synthetic_splits.train)
    plain = Trainer(_model(synthetic_splits), quick_config(tmp_path / "plain"))
    plain.fit(synthetic_splits.train, synthetic_splits)
    with pytest.raises(CheckpointError, match="holds no best checkpoint"):
        plain.load_best()


def test_a_new_best_replaces_the_old_only_after_its_pointer(tmp_path: Path) -> None:
    weights = {"w": torch.zeros(2)}
    save_best(tmp_path, model_state=weights, meta={"epoch": 1, "mAP": 0.1})
    save_best(tmp_path, model_state={"w": torch.ones(2)}, meta={"epoch": 4, "mAP": 0.3})
    best = find_best(tmp_path)
    assert best == tmp_path / "best_epoch_0004"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best_epoch_0004"]
    assert torch.equal(_weights(best)["w"], torch.ones(2))
