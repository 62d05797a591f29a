"""``siamreid demo``: the offline end-to-end demo on synthetic data."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="generate synthetic data, train a few minutes on CPU, report",
        description="Generate the synthetic Market-1501, evaluate the untrained model, train, "
        "evaluate again, and write metrics.json, losses.png and ranked.png. The recipe is "
        "configs/demo_cpu.yaml (its comments say why); the options below override it.",
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--backbone", help="timm model name (default: the recipe's)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the recipe's)")
    parser.add_argument("--seed", type=int, help="data and training seed (default: the recipe's)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again when --out holds a run (the folder is emptied first)",
    )
    parser.set_defaults(run=run, log_level=logging.INFO)  # one line per epoch, as train


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from siamreid.runs.demo import demo_recipe, run_demo

    recipe = demo_recipe(args.out, backbone=args.backbone, epochs=args.epochs, seed=args.seed)
    run_demo(args.out, recipe, overwrite=args.overwrite)
    return 0
