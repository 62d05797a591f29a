"""Part 1 of the GPU benchmark: ``Trainer`` images/s against the bare timm + PML loop.

The bare loop is ``bench_trainer.py``'s (imported: one owner): same model, batch, data and
DataLoader workers, steady state only (the first ``warm`` steps are not timed). Target: the
Trainer at >= 0.95 of the bare loop.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

import torch
from _gpu import Clock, Sizes, free, model_for
from _report import markdown_table
from bench_trainer import BareModel, bare_epoch
from torch.utils.data import DataLoader

from siamreid import (
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    Trainer,
    TrainerConfig,
)
from siamreid.data import PKSampler, ReidImageDataset
from siamreid.data.samples import ReidSplits
from siamreid.data.transforms import TransformConfig, build_train_transform
from siamreid.training.device import default_num_workers


def trainer_rate(
    sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool, workers: int
) -> float:
    """Steady-state images/s of ``Trainer.fit`` (one epoch capped at ``sizes.steps``)."""
    model = model_for(sizes, splits.num_train_pids)
    config = TrainerConfig(
        epochs=1,
        sampling=SamplingConfig(p=p, k=k),
        schedule=ScheduleConfig(kind="constant", warmup_epochs=0),
        runtime=RuntimeConfig(
            precision=sizes.precision,  # type: ignore[arg-type]
            channels_last=True,
            compile=compiled,
            device=sizes.device,
            num_workers=workers,
            max_steps_per_epoch=sizes.steps,
        ),
        output=OutputConfig(progress=False),
    )
    trainer = Trainer(model, config)
    clock = Clock(trainer.device, sizes.warm, sizes.steps)
    original = trainer._train_step

    def step(batch: Any, epoch: int, index: int) -> Any:
        out = original(batch, epoch, index)
        clock.after_step(index)
        return out

    trainer._train_step = step  # type: ignore[method-assign]
    trainer.fit(splits.train)
    del trainer, model
    free(clock.device)
    return clock.rate(p * k)


def bare_rate(
    sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool, workers: int
) -> float:
    """Steady-state images/s of ``bench_trainer.bare_epoch`` on the same model, data and batch."""
    device = torch.device(sizes.device)
    reference = model_for(sizes, 0)  # the same backbone, initialised alike
    data = reference.data_config
    bare = BareModel(
        reference.backbone, reference.head.proj.in_features, 512, splits.num_train_pids
    ).to(device, memory_format=torch.channels_last)
    height, width = sizes.input_size  # the Trainer's default augmentation, as in the recipe
    transform = build_train_transform(
        TransformConfig(height=height, width=width), data.mean, data.std, data.interpolation
    )
    sampler = PKSampler([s.pid for s in splits.train], p, k, seed=0)
    order = list(sampler)[: sizes.steps * sampler.batch_size]
    loader = DataLoader(
        ReidImageDataset(splits.train, transform),
        batch_size=sampler.batch_size,
        sampler=order,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    opt = torch.optim.Adam(bare.parameters(), lr=3.5e-4, weight_decay=5e-4)
    net: torch.nn.Module = torch.compile(bare) if compiled else bare  # type: ignore[assignment]
    clock = Clock(device, sizes.warm, sizes.steps)
    bare_epoch(
        net,
        loader,
        opt,
        device=device,
        precision=sizes.precision,
        channels_last=True,
        on_step=clock.after_step,
    )
    del bare, net, opt, reference
    free(device)
    return clock.rate(p * k)


def measure(sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool) -> dict[str, Any]:
    """Trainer and bare loop at one (P, K) and compile setting, in both orders."""
    workers = default_num_workers(torch.device(sizes.device))
    # An epoch of large batches can be shorter than sizes.steps (P=64: 56 steps on 751 ids).
    epoch_steps = len(PKSampler([s.pid for s in splits.train], p, k, seed=0)) // (p * k)
    sized = replace(sizes, steps=min(sizes.steps, epoch_steps))
    if sized.steps <= sized.warm:
        raise RuntimeError(f"P={p} K={k}: {sized.steps} steps per epoch, {sized.warm} to warm up")
    rates: dict[str, list[float]] = {"trainer": [], "bare": []}
    for order in (("trainer", "bare"), ("bare", "trainer"))[: sizes.orders]:
        for name in order:
            measure = trainer_rate if name == "trainer" else bare_rate
            rates[name].append(measure(sized, splits, p, k, compiled, workers))
    trainer, bare = statistics.mean(rates["trainer"]), statistics.mean(rates["bare"])
    return {
        "p": p,
        "k": k,
        "compile": compiled,
        "workers": workers,
        "steps": sized.steps,
        "warm": sized.warm,
        "trainer": trainer,
        "bare": bare,
        "ratio": trainer / bare,
        "rates": rates,
    }


def render(results: dict[str, Any]) -> list[str]:
    """The Trainer-vs-bare-loop table of the ``gpu`` section (no lines when nothing ran)."""
    lines: list[str] = []
    rows = [
        [
            f"{r['p']}x{r['k']} ({r['p'] * r['k']})",
            "yes" if r["compile"] else "no",
            str(r["steps"] - r["warm"]),
            f"{r['trainer']:.0f}",
            f"{r['bare']:.0f}",
            f"**{r['ratio']:.3f}**",
        ]
        for r in results["throughput"]
    ]
    if rows:
        workers = results["throughput"][0]["workers"]
        runs = len(results["throughput"][0]["rates"]["trainer"])
        height, width = results["input_size"]
        lines += [
            f"`{results['backbone']}` at {height}x{width}, {results['precision']} precision, "
            "channels_last, batch-hard triplet + "
            f"label-smoothed ID loss, Adam; the same JPEGs, transforms and {workers} DataLoader "
            "workers for both loops; steady-state images/s (steps after the first "
            f"compilations and worker start-up), mean of {runs} "
            "runs in alternating order.",
            "",
            markdown_table(
                [
                    "P x K (batch)",
                    "torch.compile",
                    "timed steps",
                    "Trainer img/s",
                    "bare loop img/s",
                    "ratio",
                ],
                rows,
            ),
            "",
            "Target: the Trainer at >= 0.95 of the bare loop.",
            "",
        ]
    return lines
