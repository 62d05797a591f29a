"""The training input pipeline: decode + augmentation + collate, in images/s per worker.

What the ``Trainer`` feeds the model at the settings of ``configs/market1501_efficientnet_b0.yaml``:
128x64 JPEGs (synthetic Market-1501 crops) resized to 256x128, flipped, padded and cropped,
normalised with EfficientNet-B0's statistics and randomly erased, each item under its own seeded
RNG (``SeededItems``), in PK batches of 16 x 4 = 64. Two views:

* the stages in one process, per image: PIL decode, the transform, and the collate of a batch;
* the Trainer's own DataLoader (``make_loader`` over ``plan_epoch``) with 0, 1 and 2 worker
  processes, each run in a child process with one BLAS/OpenMP thread; images/s per worker is
  the rate divided by the number of processes that decode (the main one when there are none).

    python benchmarks/bench_loader.py           # 30 batches (1,920 images) per run, 3 rounds
    python benchmarks/bench_loader.py --quick   # a few seconds, writes nothing
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _report import emit, markdown_table, run_child, write_section

from siamreid import SiameseEmbedder, load_recipe, make_synthetic_market
from siamreid.data import Market1501, ReidImageDataset
from siamreid.data.images import load_image
from siamreid.data.transforms import build_train_transform
from siamreid.training.loaders import item_seed, make_loader, plan_epoch, seeded_rng

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "market1501_efficientnet_b0.yaml"
WORKERS = (0, 1, 2)


def _pipeline(root: Path) -> tuple[Any, Any, Any]:
    """The recipe's training samples, transform and trainer config."""
    recipe = load_recipe(RECIPE, ["model.pretrained=false"])
    splits = Market1501(root).load()
    data = SiameseEmbedder.from_config(recipe.model).data_config
    augment = recipe.trainer.augment
    if augment is None:
        raise RuntimeError(f"{RECIPE} has no trainer.augment section.")
    transform = build_train_transform(augment, data.mean, data.std, data.interpolation)
    return splits.train, transform, recipe.trainer


def child_loader(root: Path, workers: int, batches: int) -> None:
    """Child: images/s of the Trainer's DataLoader with ``workers`` worker processes."""
    torch.set_num_threads(1)
    train, transform, config = _pipeline(root)
    plan = plan_epoch(
        [s.pid for s in train], config.sampling, epoch=0, seed=config.seed, max_steps=batches + 1
    )
    loader = make_loader(
        ReidImageDataset(train, transform), plan, num_workers=workers, pin_memory=False
    )
    cpu_start = time.process_time()
    it = iter(loader)
    first = next(it)  # workers started, first batch in: the wall clock starts here
    start = time.perf_counter()
    images = sum(len(batch[0]) for batch in it)
    seconds = time.perf_counter() - start
    del it, loader  # shuts the workers down, so their CPU time is counted below
    cpu = time.process_time() - cpu_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += children.ru_utime + children.ru_stime
    emit(
        {
            "images_per_second": images / seconds,
            "images_per_cpu_second": (images + len(first[0])) / cpu,
            "images": images,
            "shape": list(first[0].shape),
            "dtype": str(first[0].dtype),
        }
    )


def child_stages(root: Path, batches: int) -> None:
    """Child: seconds per image of decode and transform, and per batch of collate."""
    torch.set_num_threads(1)
    train, transform, config = _pipeline(root)
    batch = config.sampling.p * config.sampling.k
    n = min(len(train), batches * batch)
    # CPU time of this process: on a shared machine it does not count the time others ran.
    start = time.process_time()
    decoded = [load_image(s.path) for s in train[:n]]
    decode = (time.process_time() - start) / n
    start = time.process_time()
    tensors = []
    for i, image in enumerate(decoded):
        with seeded_rng(item_seed(config.seed, 0, i)):  # as SeededItems does per item
            tensors.append(transform(image))
    augment = (time.process_time() - start) / n
    start = time.process_time()
    for i in range(0, n - batch + 1, batch):
        torch.utils.data.default_collate([(t, 0, 0) for t in tensors[i : i + batch]])
    collate = (time.process_time() - start) / (n // batch)
    emit({"decode_ms": 1e3 * decode, "augment_ms": 1e3 * augment, "collate_ms": 1e3 * collate})


def run(quick: bool) -> dict[str, Any]:
    """Every measurement, each in a child process, over ``rounds`` rounds; medians."""
    batches, rounds, ids = (3, 1, 20) if quick else (30, 3, 200)
    script = str(Path(__file__).resolve())
    rates: dict[int, list[float]] = {w: [] for w in WORKERS}
    cpu_rates: dict[int, list[float]] = {w: [] for w in WORKERS}
    stages: list[dict[str, float]] = []
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_market(Path(tmp), num_train_ids=ids, num_test_ids=2, seed=0)
        for _ in range(rounds):
            stages.append(run_child([script, "--child", "stages", str(root), str(batches)], 1))
            for w in WORKERS:
                result = run_child([script, "--child", str(w), str(root), str(batches)], 1)
                rates[w].append(result["images_per_second"])
                cpu_rates[w].append(result["images_per_cpu_second"])
                info = {"shape": result["shape"], "dtype": result["dtype"]}
    return {
        "rates": {w: statistics.median(r) for w, r in rates.items()},
        "cpu_rates": {w: statistics.median(r) for w, r in cpu_rates.items()},
        "stages": {k: statistics.median(s[k] for s in stages) for k in stages[0]},
        "batches": batches,
        "rounds": rounds,
        **info,
    }


def render(result: dict[str, Any]) -> str:
    """The ``loader`` section."""
    stages = result["stages"]
    per_image = stages["decode_ms"] + stages["augment_ms"] + stages["collate_ms"] / 64
    rows = [
        [str(w), f"{rate:.0f}", f"{rate / max(w, 1):.0f}", f"{result['cpu_rates'][w]:.0f}"]
        for w, rate in result["rates"].items()
    ]
    return "\n".join(
        [
            "### Training input pipeline",
            "",
            "The Trainer's DataLoader at `configs/market1501_efficientnet_b0.yaml`'s settings: "
            "128x64 JPEGs to 256x128 float tensors (flip, pad 10 + crop, normalise, random "
            f"erasing), PK batches of 64 shaped {result['shape']}; {result['batches']} batches "
            f"per run after the first, one thread per process, median of {result['rounds']} "
            "rounds. With 0 workers the main process decodes. Images per CPU-second count "
            "the CPU time of every process (main and workers): what one free core delivers, "
            "whatever the load of this shared machine.",
            "",
            markdown_table(
                ["workers", "images/s", "images/s per worker", "images per CPU-second"], rows
            ),
            "",
            "In one process, CPU time per image: decode "
            f"{stages['decode_ms']:.2f} ms, augmentation {stages['augment_ms']:.2f} ms; collate "
            f"{stages['collate_ms']:.2f} ms per batch of 64: {1e3 / per_image:.0f} images per "
            "CPU-second for the stages alone.",
        ]
    )


def main() -> None:
    """Run the benchmark and record it in docs/benchmarks.md."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, root, batches = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        if kind == "stages":
            child_stages(root, batches)
        else:
            child_loader(root, int(kind), batches)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, seconds; writes nothing")
    args = parser.parse_args()
    result = run(args.quick)
    body = render(result)
    print(body)
    if not args.quick:
        print(f"wrote {write_section('loader', body)}")


if __name__ == "__main__":
    main()
