"""OSNet on a CPU: siamreid's embedding path vs BoxMOT's own runtime, and fine-tuning speed.

For OSNet x0.25 and x1.0 (random weights saved as a BoxMOT checkpoint, loaded by both), one
process times in interleaved rounds (so a change in the machine's load hits every method
alike) and reports the median images/s of:

* BoxMOT's ``PyTorchBackend.get_features(boxes, frame)``: crop, resize, normalise, forward,
  L2-normalise, as its trackers call it; against ``SiameseEmbedder.embed`` on the same crops
  (cut from the same frame, RGB arrays) in one batch;
* the network alone on the same preprocessed batch: BoxMOT's torch model in
  ``inference_mode`` against ``SiameseEmbedder.embed`` of the tensor.

Each call is timed in wall and in CPU seconds of this process: on a shared machine other jobs
stretch wall time, CPU time (with ``--threads 1``) much less. *vs BoxMOT* is siamreid's speed
over BoxMOT's by CPU time (goal: >= 1.0). It then times fine-tuning at
``configs/finetune_osnet_cpu.yaml`` (P x K = 8 x 4 crops of 256x128 a step, synthetic
Market-1501 data, the recipe's losses and optimiser) for a few steps after a warm-up.

Default: batches of 32 crops, 7 rounds, 6 fine-tuning steps; a few minutes on 2 cores.
``--quick`` takes seconds (x0.25 only, batch 4, 64x32 fine-tuning, 2 rounds) and writes
nothing unless ``--write`` is given. Writes its section of docs/benchmarks.md between
``<!-- bench:osnet:start/end -->``.

    python benchmarks/bench_osnet.py [--quick] [--threads N] [--batch B] [--rounds R] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _report import markdown_table, write_section

from siamreid.data import Market1501, make_synthetic_market
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer
from siamreid.training.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "finetune_osnet_cpu.yaml"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def boxmot_checkpoint(name: str, folder: Path) -> Path:
    """BoxMOT's OSNet with random weights, saved as BoxMOT names and stores its checkpoints."""
    from boxmot.reid.backbones.families.osnet import variants

    torch.manual_seed(0)
    model = getattr(variants, name)(num_classes=4101, pretrained=False)
    path = folder / f"{name}_msmt17.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def frame_and_boxes(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 720p BGR frame of noise and ``count`` pedestrian-shaped boxes (x1, y1, x2, y2)."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    x1 = rng.integers(0, 1280 - 100, count)
    y1 = rng.integers(0, 720 - 260, count)
    widths, heights = rng.integers(40, 100, count), rng.integers(120, 260, count)
    return frame, np.stack([x1, y1, x1 + widths, y1 + heights], axis=1)


def methods(name: str, folder: Path, batch: int) -> dict[str, Callable[[], object]]:
    """Name -> one call of each timed method, on the same crops."""
    from boxmot.reid.backends.pytorch_backend import PyTorchBackend

    path = boxmot_checkpoint(name, folder)
    backend = PyTorchBackend(path, torch.device("cpu"), False)
    ours = SiameseEmbedder(name, 512, weights=path, seed=0).eval()
    frame, boxes = frame_and_boxes(batch)
    crops = [np.ascontiguousarray(frame[y1:y2, x1:x2, ::-1]) for x1, y1, x2, y2 in boxes]
    tensor = backend.get_crops(boxes, frame)

    def boxmot_forward() -> object:
        with torch.inference_mode():
            return backend.model(tensor)

    return {
        "BoxMOT get_features(boxes, frame)": lambda: backend.get_features(boxes, frame),
        "siamreid embed(crops)": lambda: ours.embed(crops, batch_size=batch),
        "BoxMOT torch model (preprocessed)": boxmot_forward,
        "siamreid embed(tensor)": lambda: ours.embed(tensor, batch_size=batch),
    }


def interleaved(
    calls: dict[str, Callable[[], object]], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per call of each method, one call each per round after a warm-up;
    the order rotates every round so no method always follows the same one. CPU seconds of
    this process stay meaningful on a machine other jobs load (with one torch thread)."""
    for call in calls.values():
        call()
    names = list(calls)
    times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            calls[n]()
            times[n].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def finetune_rate(folder: Path, steps: int, size: tuple[int, int]) -> tuple[float, float]:
    """Images per wall and per CPU second of ``Trainer.fit`` at the CPU recipe, timed after a
    one-step warm-up epoch."""
    root = make_synthetic_market(folder / "data", num_train_ids=16, num_test_ids=2, seed=0)
    splits = Market1501(root).load()
    checkpoint = boxmot_checkpoint("osnet_x0_25", folder)
    recipe = load_recipe(
        RECIPE,
        [
            f"model.weights={checkpoint}",
            f"model.num_classes={splits.num_train_pids}",
            f"model.input_size=[{size[0]}, {size[1]}]",
            f"trainer.augment.height={size[0]}",
            f"trainer.augment.width={size[1]}",
            "trainer.output.progress=false",
            "trainer.runtime.num_workers=0",
        ],
    )
    model = SiameseEmbedder.from_config(recipe.model, seed=0)
    rate = (0.0, 0.0)
    for epoch_steps in (1, steps):  # the first run warms up the allocator and the kernels
        runtime = dataclasses.replace(recipe.trainer.runtime, max_steps_per_epoch=epoch_steps)
        config = dataclasses.replace(recipe.trainer, epochs=1, runtime=runtime)
        trainer = Trainer(model, config)
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.fit(splits.train, None)
        images = epoch_steps * config.sampling.p * config.sampling.k
        rate = (images / (time.perf_counter() - wall), images / (time.process_time() - cpu))
    return rate


def report(
    results: dict[str, dict[str, list[tuple[float, float]]]],
    batch: int,
    tune: tuple[float, float],
    args: argparse.Namespace,
) -> str:
    rows = []
    pairs = [
        ("siamreid embed(crops)", "BoxMOT get_features(boxes, frame)"),
        ("siamreid embed(tensor)", "BoxMOT torch model (preprocessed)"),
    ]
    for name, times in results.items():
        wall = {m: statistics.median(t[0] for t in seconds) for m, seconds in times.items()}
        cpu = {m: statistics.median(t[1] for t in seconds) for m, seconds in times.items()}
        for ours, theirs in pairs:
            for method in (theirs, ours):
                ratio = f"{cpu[theirs] / cpu[method]:.2f}" if method == ours else "-"
                row = [name, method, f"{batch / wall[method]:,.1f}", f"{batch / cpu[method]:,.1f}"]
                rows.append([*row, ratio])
    return (
        "## OSNet on a CPU (`bench_osnet.py`)\n\n"
        f"Batches of {batch} pedestrian crops (from one 720p frame), random weights loaded by "
        f"both from the same BoxMOT checkpoint, {torch.get_num_threads()} torch thread(s); "
        f"median of {args.rounds} interleaved rounds. *images/CPU-s*: images per second of "
        "this process's CPU time, which other jobs on a shared machine disturb far less than "
        "wall time; *vs BoxMOT* compares it with the row above (goal >= 1.0). Crops rows "
        "include cropping, resizing and normalisation (BoxMOT: cv2 and torch; siamreid: its "
        "PIL eval transform).\n\n"
        + markdown_table(["model", "method", "images/s", "images/CPU-s", "vs BoxMOT"], rows)
        + f"\n\nFine-tuning at `configs/finetune_osnet_cpu.yaml` (osnet_x0_25, "
        f"{args.tune_height}x{args.tune_width}, 8 x 4 crops a step, {args.tune_steps} steps, "
        f"data loading in the training process): **{tune[0]:,.1f} images/s**, "
        f"{tune[1]:,.1f} images/CPU-s.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="crops per call")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--tune-steps", type=int, default=6, help="timed fine-tuning steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: one a core)")
    parser.add_argument("--quick", action="store_true", help="seconds: x0.25, small batch")
    parser.add_argument("--write", action="store_true", help="write docs even with --quick")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    args.models, args.tune_height, args.tune_width = ["osnet_x0_25", "osnet_x1_0"], 256, 128
    if args.quick:
        args.batch, args.rounds, args.tune_steps, args.models = 4, 2, 1, ["osnet_x0_25"]
        args.tune_height, args.tune_width = 64, 32
    torch.set_num_threads(args.threads or cores())
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            name: interleaved(methods(name, Path(tmp), args.batch), args.rounds)
            for name in args.models
        }
        tune = finetune_rate(Path(tmp), args.tune_steps, (args.tune_height, args.tune_width))
    body = report(results, args.batch, tune, args)
    print(body)
    if not args.no_write and (args.write or not args.quick):
        print(f"wrote {write_section('osnet', body)}")


if __name__ == "__main__":
    main()
