"""The GPU path measured: Trainer vs a bare loop, one epoch of the Market-1501 recipe, evaluation.

One script, one call on one GPU (about 5-7 minutes on an H200; ``--budget-s`` skips what would
not fit), in three parts:

1. ``Trainer`` images/s against the bare timm + pytorch-metric-learning loop of
   ``bench_trainer.py`` (imported: one owner), same model, batch, data and DataLoader workers:
   EfficientNet-B0 at 256x128, bf16 autocast + channels_last, eager and ``torch.compile``, at
   P=16 K=4 and P=64 K=4. Steady state: the first steps (worker start-up, compilation, cuDNN
   autotuning) are left out of the clock.
2. Two epochs of ``configs/market1501_efficientnet_b0.yaml`` (pretrained weights off) on a
   synthetic set of Market-1501's size: 751 identities, 13,234 training images (4-6 cameras x
   2-5 images per identity: 17.6 per identity, Market-1501 has 12,936, 17.2). Epoch seconds,
   images/s, peak GPU memory, and the share of the epoch spent waiting for the DataLoader (time
   inside its iterator after a ``torch.cuda.synchronize``), and one validation pass; the
   projection of the 120-epoch recipe with its 12 validations (goal: under 5 minutes on one
   H100/H200-class GPU) and what bounds it.
3. Market-size evaluation (3,368 x 19,732, 512-d: ``evaluate_features`` and ``evaluate_rank``)
   and k-reciprocal re-ranking (``re_rank_features``) on CUDA tensors.

On the device machine (no package registry there; torch, torchvision, timm, safetensors, numpy,
pillow, pyyaml and tqdm are installed, pytorch-metric-learning is not). Once, here, in the repo
root (``.whl/`` is git-ignored)::

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux2014_x86_64 -d .whl pytorch-metric-learning==2.9.0

then one ``run`` with ``carry=[".whl"]`` and ``timeout_s=600``::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src || exit; \\
    PYTHONUNBUFFERED=1 python3 benchmarks/bench_gpu.py --json $OUT/bench_gpu.json

The results file is rewritten after each measurement, and a measurement that fails is
recorded and the next one runs, so a call cut at its time limit still returns what it measured;
``--skip-compile`` leaves out the ``torch.compile`` rows for a rerun. Back here, record the
returned file in ``docs/benchmarks.md`` (the device's copy of the page does not come back)::

    python benchmarks/bench_gpu.py --record /path/to/bench_gpu.json

``python benchmarks/bench_gpu.py --cpu-smoke`` runs every part at tiny sizes on the CPU in
about a minute and writes the section into a temporary copy of the page (the test suite runs
it, so the script is known to work end to end before a GPU is lent).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from _report import DOC_PATH, machine_summary, markdown_table, write_section
from bench_eval import FULL, NOISE, QUICK, market_like
from bench_trainer import BareModel, bare_epoch
from torch.utils.data import DataLoader

from siamreid import (
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    SiameseEmbedder,
    Trainer,
    TrainerConfig,
    evaluate_features,
    evaluate_rank,
    load_recipe,
    make_synthetic_market,
    re_rank_features,
)
from siamreid.data import Market1501, PKSampler, ReidImageDataset
from siamreid.data.samples import ReidSplits
from siamreid.data.transforms import TransformConfig, build_train_transform
from siamreid.training import trainer as trainer_module
from siamreid.training.device import default_num_workers

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "market1501_efficientnet_b0.yaml"
GOAL_SECONDS = 300.0  # the 120-epoch recipe on one H100/H200-class GPU
RECIPE_EPOCHS = 120
MARKET_TEST_IMAGES = 3368 + 15913  # query + gallery, embedded at each validation
WAIT_BOUND = 0.10  # above this share of the epoch waiting for data, the loader bounds the GPU


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


def _model(sizes: Sizes, num_classes: int) -> SiameseEmbedder:
    torch.manual_seed(0)
    return SiameseEmbedder(
        sizes.backbone, 512, pretrained=False, num_classes=num_classes, input_size=sizes.input_size
    )


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def trainer_rate(
    sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool, workers: int
) -> float:
    """Steady-state images/s of ``Trainer.fit`` (one epoch capped at ``sizes.steps``)."""
    model = _model(sizes, splits.num_train_pids)
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
    _free(clock.device)
    return clock.rate(p * k)


def bare_rate(
    sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool, workers: int
) -> float:
    """Steady-state images/s of ``bench_trainer.bare_epoch`` on the same model, data and batch."""
    device = torch.device(sizes.device)
    reference = _model(sizes, 0)  # the same backbone, initialised alike
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
    _free(device)
    return clock.rate(p * k)


def part_throughput(
    sizes: Sizes, splits: ReidSplits, p: int, k: int, compiled: bool
) -> dict[str, Any]:
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


def part_epoch(sizes: Sizes, splits: ReidSplits) -> dict[str, Any]:
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
    _free(device)
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


def _timed(
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


def part_eval(sizes: Sizes) -> dict[str, Any]:
    """Market-size evaluation and re-ranking with the features on the device."""
    device = torch.device(sizes.device)
    data = market_like(**sizes.eval_sizes, noise=NOISE, seed=0)
    q = torch.from_numpy(data["q_feats"]).to(device)
    g = torch.from_numpy(data["g_feats"]).to(device)
    labels = (data["q_pids"], data["g_pids"], data["q_cams"], data["g_cams"])
    features = functools.partial(evaluate_features, q, g, *labels)
    feats_s, metrics = _timed(features, device, 3, warm_up=features)
    distmat = torch.cdist(q, g).square_()
    rank = functools.partial(evaluate_rank, distmat, *labels)
    rank_s, _ = _timed(rank, device, 3, warm_up=rank)
    # Re-ranking is timed once; its warm-up (CUDA kernels, allocator) runs on a slice.
    rerank_s, final = _timed(
        lambda: re_rank_features(q, g), device, 1, warm_up=lambda: re_rank_features(q[:50], g[:500])
    )
    reranked = evaluate_rank(final, *labels)
    _free(device)
    return {
        "num_query": len(q),
        "num_gallery": len(g),
        "dim": q.shape[1],
        "evaluate_features_s": feats_s,
        "evaluate_rank_s": rank_s,
        "re_rank_features_s": rerank_s,
        "mAP": float(metrics.mAP),
        "mAP_reranked": float(reranked.mAP),
    }


def machine(device: torch.device) -> str:
    """The GPU's name and memory (when there is one), then the host and the date."""
    if device.type != "cuda":
        return f"CPU only (--cpu-smoke): {machine_summary()}"
    props = torch.cuda.get_device_properties(device)
    return (
        f"one {props.name} ({props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}); "
        f"host: {machine_summary()}"
    )


def run(
    sizes: Sizes,
    budget_s: float,
    save: Callable[[dict[str, Any]], None] | None = None,
    compile_runs: bool = True,
) -> dict[str, Any]:
    """Every measurement in one process; those that would start after ``budget_s`` are skipped.

    A measurement that fails is recorded (``errors``) and the next one runs: a GPU is lent for
    one call. ``save(results)`` is called after each measurement, so a run killed at its time
    limit still leaves what it measured. ``compile_runs=False`` leaves out the
    ``torch.compile`` rows (for a rerun when compilation alone would take the call).
    """
    device = torch.device(sizes.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU; use --cpu-smoke for a CPU check.")
    if sizes.compile_backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=sizes.compile_backend)  # type: ignore[assignment]
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(device),
        "backbone": sizes.backbone,
        "input_size": list(sizes.input_size),
        "precision": sizes.precision,
        "throughput": [],
        "skipped": [],
        "errors": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        splits, results["generate_s"] = make_data(sizes, Path(tmp))
        print(f"synthetic set: {len(splits.train)} images in {results['generate_s']:.1f} s")
        # The most telling measurements first: what does not fit in the budget is skipped.
        p0, k0 = sizes.batches[0]
        plan: list[tuple[str, Callable[[], Any]]] = [
            ("throughput", lambda: part_throughput(sizes, splits, p0, k0, False)),
            ("epoch", lambda: part_epoch(sizes, splits)),
            ("eval", lambda: part_eval(sizes)),
        ]
        if compile_runs:
            plan.append(("throughput", lambda: part_throughput(sizes, splits, p0, k0, True)))
        for p, k in sizes.batches[1:]:
            for compiled in (False, True)[: 2 if compile_runs else 1]:
                plan.append(
                    (
                        "throughput",
                        functools.partial(part_throughput, sizes, splits, p, k, compiled),
                    )
                )
        for index, (name, measure) in enumerate(plan):
            elapsed = time.perf_counter() - start
            if elapsed > budget_s:
                results["skipped"].append(index)
                print(f"skipped measurement {index} ({name}): {elapsed:.0f} s > --budget-s")
                continue
            try:
                result = measure()
            except Exception as error:  # recorded, and the remaining measurements still run
                traceback.print_exc()
                results["errors"].append(f"{index} ({name}): {type(error).__name__}: {error}")
                _free(device)
                result = None
            else:
                print(f"[{time.perf_counter() - start:.0f} s] {name}: {json.dumps(result)}")
                if name == "throughput":
                    results["throughput"].append(result)
                else:
                    results[name] = result
            results["total_s"] = time.perf_counter() - start
            if save is not None:
                save(results)
    results["total_s"] = time.perf_counter() - start
    return results


def render(results: dict[str, Any]) -> str:
    """The ``gpu`` section of docs/benchmarks.md from :func:`run`'s results."""
    lines = ["### The GPU path: Trainer, the Market-1501 recipe, evaluation", ""]
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
    ev = results.get("eval")
    if ev is not None:
        lines += [
            f"Evaluation of {ev['num_query']:,} queries x {ev['num_gallery']:,} gallery, "
            f"{ev['dim']}-d features on the device (median seconds):",
            "",
            markdown_table(
                ["function", "seconds", "mAP"],
                [
                    ["`evaluate_features`", f"{ev['evaluate_features_s']:.3f}", f"{ev['mAP']:.3f}"],
                    ["`evaluate_rank` (distances given)", f"{ev['evaluate_rank_s']:.3f}", ""],
                    [
                        "`re_rank_features` (k1=20, k2=6)",
                        f"{ev['re_rank_features_s']:.2f}",
                        f"{ev['mAP_reranked']:.3f}",
                    ],
                ],
            ),
            "",
        ]
    if results["skipped"]:
        lines.append(f"Skipped for time: measurements {results['skipped']} of the plan.")
    for error in results.get("errors", []):
        lines.append(f"Failed: measurement {error[:300]}")
    return "\n".join(lines)


def record(results: dict[str, Any], doc: Path) -> Path:
    """Write the ``gpu`` section, stamped with the machine the results came from."""
    return write_section("gpu", render(results), doc=doc, machine=results["machine"])


def _save(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=1))


def main() -> None:
    """Run the benchmark (or record a finished run) and write its section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--doc", type=Path, help="page to write (default docs/benchmarks.md)")
    parser.add_argument("--record", type=Path, help="write the section from a --json file")
    parser.add_argument("--skip-compile", action="store_true", help="no torch.compile rows")
    parser.add_argument("--budget-s", type=float, default=330.0, help="start nothing after this")
    args = parser.parse_args()
    if args.record is not None:
        print(f"wrote {record(json.loads(args.record.read_text()), args.doc or DOC_PATH)}")
        return
    sizes = SMOKE if args.cpu_smoke else GPU
    doc = args.doc
    if doc is None and args.cpu_smoke:  # never touch the real page with smoke numbers
        doc = Path(tempfile.mkdtemp(prefix="bench_gpu_")) / "benchmarks.md"
        if DOC_PATH.exists():
            shutil.copy(DOC_PATH, doc)
    save = None
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        save = functools.partial(_save, args.json)
    results = run(sizes, args.budget_s, save, compile_runs=not args.skip_compile)
    print(render(results))
    if args.json is not None:
        print(f"wrote {args.json}")
    print(f"wrote {record(results, doc or DOC_PATH)}")


if __name__ == "__main__":
    main()
