"""Fine-tuning an OSNet x0.25 from a peer-style checkpoint raises held-out mAP."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from quick_training import QuickConfig
from siamreid.data.samples import ReidSplits
from siamreid.data.transforms import TransformConfig
from siamreid.losses import LossTermConfig
from siamreid.models import SiameseEmbedder
from siamreid.training import OptimConfig, SamplingConfig, ScheduleConfig, Trainer
from siamreid.training.validation import validate

SIZE = (64, 32)


@pytest.mark.slow
def test_finetuning_osnet_raises_held_out_map(
    synthetic_splits: ReidSplits, tmp_path: Path, quick_config: QuickConfig
) -> None:
    torch.manual_seed(0)  # a torchreid-style checkpoint: {"state_dict": ...}, 1000 classes
    peer = timm.create_model("osnet_x0_25", num_classes=1000)
    checkpoint = tmp_path / "osnet_x0_25_peer.pth"
    torch.save({"state_dict": peer.state_dict(), "epoch": 0}, checkpoint)
    model = SiameseEmbedder(
        "osnet_x0_25",
        64,
        weights=checkpoint,
        num_classes=synthetic_splits.num_train_pids,
        input_size=SIZE,
        seed=0,
    )
    torch.testing.assert_close(model.backbone.conv1.conv.weight, peer.conv1.conv.weight)
    cfg = quick_config(
        tmp_path / "run",
        epochs=12,
        steps=10,
        sampling=SamplingConfig(p=4, k=4),
        optim=OptimConfig(lr=1e-2),  # OSNet from random weights: a high rate
        schedule=ScheduleConfig(kind="cosine", warmup_epochs=0),
        augment=TransformConfig(height=SIZE[0], width=SIZE[1], pad=4, random_erasing_prob=0.0),
        losses=(
            LossTermConfig("triplet", distance="normalized_euclidean"),
            LossTermConfig("id"),
        ),
    )
    trainer = Trainer(model, cfg)
    before = validate(model, synthetic_splits, trainer.loss_fn, device=trainer.device, p=4, k=4)
    trainer.fit(synthetic_splits.train, synthetic_splits)
    after = validate(model, synthetic_splits, trainer.loss_fn, device=trainer.device, p=4, k=4)
    assert after.metrics.mAP > before.metrics.mAP + 0.03, (before.metrics.mAP, after.metrics.mAP)
