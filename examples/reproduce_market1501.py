"""Reproduce the strong baseline on Market-1501 and write the same report as the demo.

Shows: the full recipe (``configs/market1501_efficientnet_b0.yaml``: ImageNet-pretrained
EfficientNet-B0 at 256x128, PK batches 16x4, batch-hard triplet + label-smoothed identity loss,
BNNeck, random erasing, Adam with warm-up) trained and evaluated on the real dataset.

    python examples/reproduce_market1501.py --root /data/Market-1501-v15.09.15 --out runs/bot

Takes hours on one GPU (120 epochs; not measured by this project yet); on a CPU it is not
practical. Download Market-1501 yourself (the dataset's licence forbids redistribution) and
unpack it under --root.
Offline, pass ``--weights efficientnet_b0.safetensors`` (an ImageNet checkpoint) or
``--no-pretrained``.

``--smoke`` runs the same pipeline end to end on the synthetic dataset with a tiny model and
a handful of steps (under a minute on 2 CPU cores); a test runs it that way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from siamreid import load_recipe
from siamreid.runs.pipeline import run_recipe

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "market1501_efficientnet_b0.yaml"

SMOKE = [
    "data.dataset=synthetic",
    "data.synthetic_train_ids=16",
    "data.synthetic_test_ids=16",
    "model.backbone=resnet18",
    "model.pretrained=false",
    "model.embedding_dim=64",
    "model.input_size=[64, 32]",
    "trainer.augment={height: 64, width: 32}",
    "trainer.epochs=2",
    "trainer.sampling.p=4",
    "trainer.sampling.k=4",
    "trainer.runtime.max_steps_per_epoch=4",
    "trainer.schedule.warmup_epochs=1",
    "trainer.runtime.precision=fp32",
    "trainer.runtime.channels_last=false",
    "trainer.eval_every=1",
]


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Parse the command line and run the recipe."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", help="Market-1501 folder (or its parent)")
    parser.add_argument("--out", default="runs/market1501_efficientnet_b0", help="run folder")
    parser.add_argument("--weights", help="local ImageNet weights file for the backbone")
    parser.add_argument("--no-pretrained", action="store_true", help="train from scratch")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic run (< 1 min)")
    args = parser.parse_args(argv)
    overrides: list[str] = []
    if args.smoke:
        overrides += [*SMOKE, f"data.root={Path(args.out) / 'data'}"]
    elif args.root is None:
        parser.error("--root is required (or --smoke for the synthetic run)")
    else:
        overrides.append(f"data.root={args.root}")
    if args.weights:
        overrides.append(f"model.weights={args.weights}")
    if args.no_pretrained:
        overrides.append("model.pretrained=false")
    return run_recipe(load_recipe(CONFIG, overrides), args.out, resume=args.resume)


if __name__ == "__main__":
    main()
