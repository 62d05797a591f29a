"""What the GPU benchmark's parts share: the sizes of a run, a step clock, the synthetic set.

``bench_gpu.py`` runs the parts (``gpu_trainer_ratio``, ``gpu_recipe_epoch``, ``gpu_eval``); each
takes a :class:`Sizes`, so one code path serves the GPU run and its ``--cpu-smoke`` rehearsal.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from _report import machine_summary
from bench_eval import FULL, QUICK

from siamreid import SiameseEmbedder, make_synthetic_market
from siamreid.data import Market1501
from siamreid.data.samples import ReidSplits


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the GPU run and the CPU smoke run."""

    device: str
    backbone: str
    input_size: tuple[int, int]
    precision: str
    num_train_ids: int
    cameras_per_id: tuple[int, int]
    images_per_camera: tuple[int, int]
    batches: tuple[tuple[int, int], ...]  # (P, K) of part 1
    steps: int  # steps per part-1 run, of which the first `warm` are not timed
    warm: int
    orders: int  # part 1 runs both loops once per order (trainer first, bare first)
    epoch_steps: int | None  # cap on the recipe's epochs (None: the whole epoch)
    eval_sizes: dict[str, int]
    compile_backend: str


GPU = Sizes(
    device="cuda",
    backbone="efficientnet_b0",
    input_size=(256, 128),
    precision="bf16",
    num_train_ids=751,
    cameras_per_id=(4, 6),
    images_per_camera=(2, 5),
    batches=((16, 4), (64, 4)),
    steps=80,
    warm=20,
    orders=2,
    epoch_steps=None,
    eval_sizes=FULL,
    compile_backend="inductor",
)
# Tiny and fp32 (the recipe's advice for CPUs); torch.compile traces with the "eager" backend,
# since inductor's C++ compilation of even a toy network takes minutes on 2 shared cores.
SMOKE = Sizes(
    device="cpu",
    backbone="test_efficientnet",
    input_size=(64, 32),
    precision="fp32",
    num_train_ids=8,
    cameras_per_id=(2, 6),
    images_per_camera=(1, 4),
    batches=((4, 2),),
    steps=3,
    warm=1,
    orders=1,
    epoch_steps=2,
    eval_sizes={**QUICK, "num_query": 50, "num_gallery": 300},
    compile_backend="eager",
)


class Clock:
    """Wall-clock seconds between the end of step ``warm - 1`` and the end of the last step."""

    def __init__(self, device: torch.device, warm: int, steps: int) -> None:
        self.device, self.warm, self.steps = device, warm, steps
        self.start = self.end = float("nan")

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def after_step(self, step: int) -> None:
        if step + 1 == self.warm:
            self.sync()
            self.start = time.perf_counter()
        elif step + 1 == self.steps:
            self.sync()
            self.end = time.perf_counter()

    def rate(self, batch: int) -> float:
        return (self.steps - self.warm) * batch / (self.end - self.start)


def make_data(sizes: Sizes, folder: Path) -> tuple[ReidSplits, float]:
    """The synthetic training set; returns it and the seconds its generation took."""
    start = time.perf_counter()
    root = make_synthetic_market(
        folder,
        num_train_ids=sizes.num_train_ids,
        num_test_ids=2,
        seed=0,
        cameras_per_id=sizes.cameras_per_id,
        images_per_camera=sizes.images_per_camera,
    )
    seconds = time.perf_counter() - start
    return Market1501(root).load(), seconds


def model_for(sizes: Sizes, num_classes: int) -> SiameseEmbedder:
    torch.manual_seed(0)
    return SiameseEmbedder(
        sizes.backbone, 512, pretrained=False, num_classes=num_classes, input_size=sizes.input_size
    )


def free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def timed(
    fn: Callable[[], Any], device: torch.device, repeats: int, warm_up: Callable[[], Any]
) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls of ``fn`` after ``warm_up()``, and the last result."""
    warm_up()
    result = None
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def machine(device: torch.device) -> str:
    """The GPU's name and memory (when there is one), then the host and the date."""
    if device.type != "cuda":
        return f"CPU only (--cpu-smoke): {machine_summary()}"
    props = torch.cuda.get_device_properties(device)
    return (
        f"one {props.name} ({props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}); "
        f"host: {machine_summary()}"
    )
