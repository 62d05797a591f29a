"""Part 2 of the GPU benchmark: two epochs of the shipped EfficientNet-B0 recipe.

Epoch seconds, images/s, peak GPU memory, the share of the epoch spent waiting for the
DataLoader, one validation pass, and the projection of the 120-epoch recipe (goal: under 5
minutes on one H100/H200-class GPU) with what bounds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _gpu import SMOKE, Sizes, free
from _report import markdown_table
from torch.utils.data import DataLoader

from siamreid import SiameseEmbedder, Trainer, load_recipe
from siamreid.data.samples import ReidSplits
from siamreid.training import trainer as trainer_module

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "market1501_efficientnet_b0.yaml"
GOAL_SECONDS = 300.0  # the 120-epoch recipe on one H100/H200-class GPU
RECIPE_EPOCHS = 120
MARKET_TEST_IMAGES = 3368 + 15913  # query + gallery, embedded at each validation
WAIT_BOUND = 0.10  # above this share of the epoch waiting for data, the loader bounds the GPU


class TimedLoader:
    """A DataLoader whose iterator records the seconds each batch took to arrive, per epoch.

    The GPU is synchronised before each wait, so a wait is time the GPU had nothing to do (the
    Trainer reads each step's loss, which synchronises anyway).
    """

    def __init__(self, loader: DataLoader[Any], device: torch.device) -> None:
        self.loader, self.device = loader, device
        self.waits: list[list[float]] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        waits: list[float] = []
        self.waits.append(waits)
        it = iter(self.loader)
        while True:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            start = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            waits.append(time.perf_counter() - start)
            yield batch


def measure(sizes: Sizes, splits: ReidSplits) -> dict[str, Any]:
    """Two epochs of the shipped recipe; the second is the steady state."""
    overrides = ["model.pretrained=false", "trainer.epochs=2", "trainer.output.progress=false"]
    if sizes is SMOKE:
        height, width = sizes.input_size
        overrides += [
            f"model.backbone={sizes.backbone}",
            f"model.input_size=[{height}, {width}]",
            f"trainer.augment.height={height}",
            f"trainer.augment.width={width}",
            "trainer.sampling.p=4",
            "trainer.sampling.k=2",
            f"trainer.runtime.precision={sizes.precision}",
            "trainer.runtime.num_workers=0",
        ]
    if sizes.epoch_steps is not None:
        overrides.append(f"trainer.runtime.max_steps_per_epoch={sizes.epoch_steps}")
    recipe = load_recipe(RECIPE, overrides)
    torch.manual_seed(0)
    model = SiameseEmbedder.from_config(recipe.model, num_classes=splits.num_train_pids)
    device = torch.device(sizes.device)
    config = replace(recipe.trainer, runtime=replace(recipe.trainer.runtime, device=sizes.device))
    timed: list[TimedLoader] = []
    original = trainer_module.make_loader

    def make_loader(*args: Any, **kwargs: Any) -> Any:
        loader = TimedLoader(original(*args, **kwargs), device)
        timed.append(loader)
        return loader

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer_module.make_loader = make_loader  # type: ignore[assignment]
    try:
        trainer = Trainer(model, config)
        history = trainer.fit(splits.train)
    finally:
        trainer_module.make_loader = original
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    epochs = []
    for record, waits in zip(history, timed[0].waits, strict=True):
        epochs.append(
            {
                "seconds": record.epoch_seconds,
                "images_per_second": record.images_per_second,
                "steps": len(waits),
                "wait_seconds": sum(waits),
                "wait_share": sum(waits) / record.epoch_seconds,
                "first_wait": waits[0] if waits else 0.0,
            }
        )
    steady = epochs[-1]
    projected = RECIPE_EPOCHS * steady["seconds"] + (epochs[0]["seconds"] - steady["seconds"])
    # Validation as the recipe runs it (every eval_every epochs), timed on the training images
    # as query + gallery and scaled to Market-1501's 19,281 test images.
    start = time.perf_counter()
    trainer.evaluate(_as_test_split(splits))
    validation_s = time.perf_counter() - start
    validations = RECIPE_EPOCHS // recipe.trainer.eval_every
    market_validation_s = validation_s * MARKET_TEST_IMAGES / len(splits.train)
    del trainer, model
    free(device)
    return {
        "images": len(splits.train),
        "identities": splits.num_train_pids,
        "batch": config.sampling.p * config.sampling.k,
        "workers": trainer_module.default_num_workers(device)
        if config.runtime.num_workers is None
        else config.runtime.num_workers,
        "epochs": epochs,
        "peak_gib": peak,
        "projected_seconds": projected,
        "validation_s": validation_s,
        "validations": validations,
        "market_validation_s": market_validation_s,
        "projected_with_validation_s": projected + validations * market_validation_s,
        "bound": "input pipeline" if steady["wait_share"] > WAIT_BOUND else "GPU compute",
    }


def _as_test_split(splits: ReidSplits) -> ReidSplits:
    """The training images as a test split: each identity's first image queries the others.

    Pids start at 1 (0 marks distractors); the timing is per image, whatever the split.
    """
    query, gallery, seen = [], [], set()
    for sample in splits.train:
        (gallery if sample.pid in seen else query).append(replace(sample, pid=sample.pid + 1))
        seen.add(sample.pid)
    return ReidSplits(train=[], query=query, gallery=gallery, name="timing")


def render(results: dict[str, Any]) -> list[str]:
    """The recipe-epoch table and projection of the ``gpu`` section."""
    lines: list[str] = []
    epoch = results.get("epoch")
    if epoch is not None:
        first, steady = epoch["epochs"][0], epoch["epochs"][-1]
        peak = "n/a" if epoch["peak_gib"] is None else f"{epoch['peak_gib']:.1f} GiB"
        minutes = epoch["projected_seconds"] / 60
        lines += [
            f"`configs/market1501_efficientnet_b0.yaml` (pretrained off, eager) on a synthetic "
            f"set of {epoch['identities']} identities and {epoch['images']:,} training images "
            f"(128x64 JPEGs), batch {epoch['batch']}, {epoch['workers']} DataLoader workers:",
            "",
            markdown_table(
                ["epoch", "seconds", "images/s", "waiting for data", "peak GPU memory"],
                [
                    [
                        label,
                        f"{e['seconds']:.1f}",
                        f"{e['images_per_second']:.0f}",
                        f"{100 * e['wait_share']:.1f}%",
                        peak,
                    ]
                    for label, e in (("1 (start-up)", first), ("2 (steady)", steady))
                ],
            ),
            "",
            f"Projected 120-epoch recipe: **{minutes:.1f} min** of training (goal: under "
            f"{GOAL_SECONDS / 60:.0f} min), bounded by **{epoch['bound']}**; with its "
            f"{epoch['validations']} validations on Market-1501's 19,281 test images "
            f"({epoch['market_validation_s']:.1f} s each, scaled from "
            f"{epoch['images']:,} images in {epoch['validation_s']:.1f} s): "
            f"**{epoch['projected_with_validation_s'] / 60:.1f} min**.",
            "",
        ]
    return lines
