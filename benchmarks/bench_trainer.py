"""Trainer throughput against a bare hand-written timm + pytorch-metric-learning loop.

Both train the same model (timm backbone + linear + BatchNorm neck + classifier) with the same
loss (batch-hard triplet + label-smoothed cross-entropy), optimizer, PK batches and images
(decoded and augmented by the same transforms through a DataLoader), in one process, interleaved
in rounds so that the machine's load affects both alike. Reports median images/s and the median
of the per-round ratios.

    python benchmarks/bench_trainer.py            # resnet18 at 128x64, 11 rounds
    python benchmarks/bench_trainer.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pytorch_metric_learning import distances, losses, miners, reducers
from torch import nn
from torch.utils.data import DataLoader

from siamreid import (
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    SiameseEmbedder,
    Trainer,
    TrainerConfig,
)
from siamreid.data import Market1501, PKSampler, ReidImageDataset, make_synthetic_market
from siamreid.data.transforms import TransformConfig, build_train_transform


class BareModel(nn.Module):
    """What a user would write by hand: timm backbone, linear, BN neck, classifier."""

    def __init__(self, backbone: nn.Module, width: int, dim: int, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.proj = nn.Linear(width, dim, bias=False)
        self.bn = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, classes, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.proj(self.backbone(x))
        return feats, self.classifier(self.bn(feats))


def bare_epoch(
    model: nn.Module,
    loader: DataLoader,
    opt: torch.optim.Optimizer,
    *,
    device: torch.device | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> int:
    """One pass of the hand-written loop; returns the number of images trained on.

    ``device``, ``precision`` (``"fp32"`` or ``"bf16"`` autocast) and ``channels_last`` are what
    a user would add for a GPU (``benchmarks/bench_gpu.py``); ``on_step(i)`` is called after
    step ``i`` (for timers).
    """
    distance = distances.LpDistance(normalize_embeddings=False)
    miner = miners.BatchHardMiner(distance=distance)
    triplet = losses.TripletMarginLoss(
        margin=0.3, distance=distance, reducer=reducers.MeanReducer()
    )
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    seen = 0
    model.train()
    autocast = torch.autocast(
        device_type=(device or torch.device("cpu")).type,
        dtype=torch.bfloat16,
        enabled=precision == "bf16",
    )
    for step, (images, pids, _) in enumerate(loader):
        if device is not None:
            images = images.to(device, non_blocking=True)
            pids = pids.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast:
            feats, logits = model(images)
            loss = triplet(feats, pids, miner(feats, pids)) + ce(logits, pids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(pids)
        if on_step is not None:
            on_step(step)
    return seen


def run(quick: bool) -> dict[str, float]:
    """Measure both loops; returns median images/s of each and their ratio."""
    torch.set_num_threads(2)
    steps, rounds, size = (2, 2, (64, 32)) if quick else (8, 11, (128, 64))
    p, k = 8, 4
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_market(Path(tmp), num_train_ids=40, num_test_ids=4, seed=0)
        splits = Market1501(root).load()
        torch.manual_seed(0)
        model = SiameseEmbedder(
            "resnet18", 128, pretrained=False, num_classes=splits.num_train_pids, input_size=size
        )
        config = TrainerConfig(
            epochs=1,
            sampling=SamplingConfig(p=p, k=k),
            schedule=ScheduleConfig(kind="constant", warmup_epochs=0),
            runtime=RuntimeConfig(num_workers=0, max_steps_per_epoch=steps),
            output=OutputConfig(progress=False),
        )
        trainer = Trainer(model, config)
        torch.manual_seed(0)
        bare = BareModel(
            SiameseEmbedder("resnet18", 128, pretrained=False, input_size=size).backbone,
            model.head.proj.in_features,
            128,
            splits.num_train_pids,
        )
        data = model.data_config
        transform = build_train_transform(
            TransformConfig(height=size[0], width=size[1]), data.mean, data.std, data.interpolation
        )
        pids = [s.pid for s in splits.train]
        sampler = PKSampler(pids, p, k, seed=0)
        subset = list(sampler)[: steps * sampler.batch_size]
        loader = DataLoader(
            ReidImageDataset(splits.train, transform),
            batch_size=sampler.batch_size,
            sampler=subset,
            num_workers=0,
            drop_last=True,
        )
        opt = torch.optim.Adam(bare.parameters(), lr=3.5e-4, weight_decay=5e-4)
        trainer_rates, bare_rates, ratios = [], [], []
        for round_ in range(rounds + 1):  # the first round warms caches and is dropped
            pair = {}
            # Alternate which loop goes first, so a drift in the machine's load hits both alike.
            for name in ("trainer", "bare") if round_ % 2 else ("bare", "trainer"):
                start = time.perf_counter()
                if name == "trainer":
                    trainer.fit(splits.train)
                    seen = steps * p * k
                else:
                    seen = bare_epoch(bare, loader, opt)
                pair[name] = seen / (time.perf_counter() - start)
            if round_:
                trainer_rates.append(pair["trainer"])
                bare_rates.append(pair["bare"])
                ratios.append(pair["trainer"] / pair["bare"])
    t, b = statistics.median(trainer_rates), statistics.median(bare_rates)
    return {
        "trainer": t,
        "bare": b,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "steps": steps,
        "rounds": rounds,
        "height": size[0],
        "width": size[1],
    }


def main() -> None:
    """Run the benchmark and record it in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, seconds")
    args = parser.parse_args()
    result = run(args.quick)
    table = "\n".join(
        [
            f"ResNet-18 at {result['height']}x{result['width']}, PK batches 8x4, batch-hard "
            f"triplet + ID loss, Adam; {result['rounds']} interleaved rounds of "
            f"{result['steps']} steps (the order alternating), medians; the ratio is the median "
            f"of the rounds' ratios (range {result['ratio_min']:.3f}-{result['ratio_max']:.3f}).",
            "",
            "| loop | images/s |",
            "|---|---|",
            f"| siamreid `Trainer` | {result['trainer']:.1f} |",
            f"| bare timm + pytorch-metric-learning loop | {result['bare']:.1f} |",
            f"| **ratio** (target >= 0.95) | **{result['ratio']:.3f}** |",
        ]
    )
    print(table)
    if not args.quick:
        from _report import write_section

        body = "### Training throughput: Trainer vs a bare loop\n\n" + table
        print(f"wrote {write_section('trainer', body)}")


if __name__ == "__main__":
    main()
