"""The Trainer: it learns, it resumes exactly after SIGKILL, it stops cleanly on bad losses."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from quick_training import QuickConfig
from siamreid.data.samples import ReidSplits
from siamreid.data.transforms import TransformConfig
from siamreid.errors import ConfigError, NonFiniteLossError
from siamreid.losses import LossTermConfig
from siamreid.models import SiameseEmbedder
from siamreid.training import (
    OptimConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    Trainer,
    TrainerConfig,
)
from siamreid.training.checkpoint import find_latest
from siamreid.training.validation import validate

SIZE = (64, 32)


def _model(num_classes: int, seed: int = 0) -> SiameseEmbedder:
    torch.manual_seed(seed)
    return SiameseEmbedder(
        "resnet18", 64, pretrained=False, num_classes=num_classes, input_size=SIZE
    )


@pytest.fixture
def config(quick_config: QuickConfig) -> QuickConfig:
    """Two epochs of three P=4 x K=4 batches."""

    def make(out_dir: Path | None, **fields: Any) -> TrainerConfig:
        fields.setdefault("epochs", 2)
        fields.setdefault("sampling", SamplingConfig(p=4, k=4))
        return quick_config(out_dir, steps=fields.pop("steps", 3), **fields)

    return make


@pytest.mark.slow
def test_training_improves_held_out_map(
    synthetic_splits: ReidSplits, tmp_path: Path, config: QuickConfig
) -> None:
    model = _model(synthetic_splits.num_train_pids)
    cfg = config(
        tmp_path,
        epochs=12,
        steps=10,
        optim=OptimConfig(lr=3e-3),
        schedule=ScheduleConfig(kind="cosine", warmup_epochs=0),
        augment=TransformConfig(height=SIZE[0], width=SIZE[1], pad=4, random_erasing_prob=0.0),
        losses=(
            LossTermConfig("triplet", distance="normalized_euclidean"),
            LossTermConfig("id"),
        ),
    )
    trainer = Trainer(model, cfg)
    before = validate(model, synthetic_splits, trainer.loss_fn, device=trainer.device, p=4, k=4)
    history = trainer.fit(synthetic_splits.train, synthetic_splits)
    after = validate(model, synthetic_splits, trainer.loss_fn, device=trainer.device, p=4, k=4)
    assert after.metrics.mAP > before.metrics.mAP + 0.15
    assert history[-1].train_loss < history[0].train_loss
    assert len(history) == 12
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 13))
    assert set(history[-1].train_terms) == {"triplet", "id"}
    assert history[-1].val_loss is not None
    assert 0.0 <= (history[-1].triplet_accuracy or -1) <= 1.0


def test_seed_siamese_triplet_path_runs(synthetic_splits: ReidSplits, config: QuickConfig) -> None:
    model = _model(0)
    cfg = config(
        None,
        sampling=SamplingConfig(kind="triplet", triplets_per_batch=8),
        epochs=1,
        steps=2,
        losses=(LossTermConfig("triplet", miner="none", distance="normalized_euclidean"),),
    )
    history = Trainer(model, cfg).fit(synthetic_splits.train, synthetic_splits)
    assert history[0].train_loss > 0
    assert history[0].mAP is not None


def test_id_loss_without_classifier_is_refused(
    synthetic_splits: ReidSplits, config: QuickConfig
) -> None:
    with pytest.raises(ConfigError, match="num_classes="):
        Trainer(_model(0), config(None)).fit(synthetic_splits.train)


def test_loss_weights_are_trained_checkpointed_and_resumed(
    synthetic_splits: ReidSplits, tmp_path: Path, config: QuickConfig
) -> None:
    losses = (LossTermConfig("triplet"), LossTermConfig("arcface"), LossTermConfig("center"))
    cfg = config(tmp_path, epochs=1, steps=2, losses=losses)
    trainer = Trainer(_model(synthetic_splits.num_train_pids), cfg)
    start = {k: v.clone() for k, v in trainer.loss_fn.state_dict().items()}
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in trainer.loss_fn.parameters())
    history = trainer.fit(synthetic_splits.train)
    assert set(history[0].train_terms) == {"triplet", "arcface", "center"}
    trained = trainer.loss_fn.state_dict()
    assert set(trained) == {"terms.arcface.loss.W", "terms.center.centers"}
    assert all(not torch.equal(start[k], trained[k]) for k in trained)

    resumed = Trainer(_model(synthetic_splits.num_train_pids, seed=1), replace_resume(cfg))
    resumed.fit(synthetic_splits.train)  # nothing left to train: only the state is restored
    for name, tensor in resumed.loss_fn.state_dict().items():
        assert torch.equal(tensor, trained[name]), name


def replace_resume(cfg: TrainerConfig) -> TrainerConfig:
    return dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, resume=True))


def test_nan_loss_raises_naming_step_and_keeps_checkpoint(
    synthetic_splits: ReidSplits, tmp_path: Path, config: QuickConfig
) -> None:
    model = _model(synthetic_splits.num_train_pids)
    trainer = Trainer(model, config(tmp_path, epochs=1))
    trainer.fit(synthetic_splits.train)
    good = find_latest(tmp_path / "checkpoints")
    assert good is not None
    weights = load_file(str(good / "model.safetensors"))
    with torch.no_grad():
        model.head.proj.weight.fill_(float("nan"))
    trainer2 = Trainer(model, config(tmp_path, epochs=2))
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 0 \(triplet=nan, id=nan\)"):
        trainer2.fit(synthetic_splits.train)
    assert find_latest(tmp_path / "checkpoints") == good
    for name, tensor in load_file(str(good / "model.safetensors")).items():
        torch.testing.assert_close(tensor, weights[name])


def test_nan_batches_can_be_skipped(synthetic_splits: ReidSplits, config: QuickConfig) -> None:
    model = _model(synthetic_splits.num_train_pids)
    with torch.no_grad():
        model.head.proj.weight.fill_(float("nan"))
    runtime = RuntimeConfig(device="cpu", num_workers=0, on_nan="skip_batch")
    trainer = Trainer(model, config(None, epochs=1, runtime=runtime))
    history = trainer.fit(synthetic_splits.train)
    assert history[0].skipped_batches == 3


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from siamreid.data.datasets.market1501 import Market1501
    from siamreid.models import SiameseEmbedder
    from siamreid.training import (
        OptimConfig, OutputConfig, RuntimeConfig, SamplingConfig, ScheduleConfig, Trainer,
        TrainerConfig,
    )
    from siamreid.training import trainer as trainer_module

    root, out, kill_epoch, kill_step, resume, sig = sys.argv[1:7]
    torch.set_num_threads(1)
    splits = Market1501(root).load()
    torch.manual_seed(0)
    model = SiameseEmbedder("resnet18", 32, pretrained=False,
                            num_classes=splits.num_train_pids, input_size=(64, 32))
    cfg = TrainerConfig(
        epochs=3,
        sampling=SamplingConfig(p=4, k=2),
        optim=OptimConfig(lr=1e-3),
        schedule=ScheduleConfig(kind="cosine", warmup_epochs=1),
        runtime=RuntimeConfig(max_steps_per_epoch=3, num_workers=0),
        output=OutputConfig(progress=False, out_dir=out, resume=resume == "1"),
    )
    original = trainer_module.Trainer._train_step
    def step(self, batch, epoch, step):
        if epoch == int(kill_epoch) and step == int(kill_step):
            os.kill(os.getpid(), getattr(signal, sig))
        return original(self, batch, epoch, step)
    trainer_module.Trainer._train_step = step
    Trainer(model, cfg).fit(splits.train)
    """
)


def _run_child(
    root: Path, out: Path, kill: tuple[int, int], resume: bool, sig: str = "SIGKILL"
) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [str(root), str(out), *map(str, kill), "1" if resume else "0", sig]
    cmd = [sys.executable, "-c", _CHILD, *args]
    return subprocess.run(cmd, env=env, check=False, timeout=600).returncode


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    latest = find_latest(run / "checkpoints")
    assert latest is not None
    return load_file(str(latest / "model.safetensors"))


@pytest.fixture(scope="module")
def uninterrupted(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    assert _run_child(synthetic_root, out, (-1, -1), resume=False) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "kill_step", "expected_code", "checkpoint"),
    [
        ("SIGKILL", 2, -signal.SIGKILL, "epoch_0001"),  # killed: resume from the last epoch
        ("SIGINT", 0, -signal.SIGINT, "epoch_0001_step_1"),  # Ctrl-C: step ends, then a save
    ],
)
def test_interrupt_then_resume_equals_uninterrupted(
    synthetic_root: Path,
    uninterrupted: Path,
    tmp_path: Path,
    sig: str,
    kill_step: int,
    expected_code: int,
    checkpoint: str,
) -> None:
    run = tmp_path / "run"
    assert _run_child(synthetic_root, run, (1, kill_step), resume=False, sig=sig) == expected_code
    interrupted = find_latest(run / "checkpoints")
    assert interrupted is not None
    assert interrupted.name == checkpoint
    assert _run_child(synthetic_root, run, (-1, -1), resume=True) == 0
    clean, resumed = _final_weights(uninterrupted), _final_weights(run)
    assert clean.keys() == resumed.keys()
    for name, tensor in clean.items():
        assert torch.equal(tensor, resumed[name]), name
    history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2, 3]


def test_resume_refuses_another_architecture(
    synthetic_splits: ReidSplits, tmp_path: Path, config: QuickConfig
) -> None:
    Trainer(_model(synthetic_splits.num_train_pids), config(tmp_path, epochs=1)).fit(
        synthetic_splits.train
    )
    torch.manual_seed(0)
    other = SiameseEmbedder(
        "resnet18",
        32,
        pretrained=False,
        num_classes=synthetic_splits.num_train_pids,
        input_size=SIZE,
    )
    with pytest.raises(Exception, match=r"embedding_dim=64.*embedding_dim=32"):
        Trainer(other, config(tmp_path, epochs=2, resume=True)).fit(synthetic_splits.train)


def test_validate_reports_metrics_metric_terms_and_embeddings(
    synthetic_splits: ReidSplits, config: QuickConfig
) -> None:
    model = SiameseEmbedder("test_resnet", 16, pretrained=False, input_size=SIZE, seed=0)
    trainer = Trainer(model, config(None))
    result = trainer.validate(synthetic_splits)
    assert result.query_embeddings.shape == (len(synthetic_splits.query), 16)
    assert result.gallery_embeddings.shape == (len(synthetic_splits.gallery), 16)
    assert set(result.terms) == {t.label for t in trainer.loss_fn.metric_terms}  # no "id"
    assert result.metrics.to_dict() == trainer.evaluate(synthetic_splits).to_dict()
    assert 0.0 <= result.triplet_accuracy <= 1.0


def test_each_epoch_trains_and_records_its_scheduled_learning_rate(
    synthetic_splits: ReidSplits, quick_config: QuickConfig
) -> None:
    model = SiameseEmbedder("test_resnet", 16, pretrained=False, input_size=SIZE, seed=0)
    seen: list[float] = []
    trainer = Trainer(
        model,
        quick_config(
            epochs=3,
            losses=(LossTermConfig("triplet"),),
            optim=OptimConfig(lr=0.1),
            schedule=ScheduleConfig(kind="step", milestones=(2,), gamma=0.5, warmup_epochs=1),
        ),
    )
    original = trainer._train_step

    def step(batch: Any, epoch: int, index: int) -> Any:
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        return original(batch, epoch, index)

    trainer._train_step = step  # type: ignore[method-assign]
    history = trainer.fit(synthetic_splits.train)
    # Warm-up from 0.01 x lr in epoch 1, the peak in epoch 2, halved once 2 epochs are done.
    assert seen == pytest.approx([0.001, 0.1, 0.05])
    assert [record.lr for record in history] == pytest.approx(seen)
