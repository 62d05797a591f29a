"""``siamreid train``: train and evaluate a recipe (also under ``torchrun`` for several GPUs)."""

from __future__ import annotations

import argparse
from typing import Any

from siamreid.runs.folder import load_run_recipe
from siamreid.runs.pipeline import run_recipe


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="train and evaluate a recipe",
        description="Train and evaluate the recipe in --config. Any field can be overridden "
        "with section.field=value (value parsed as YAML), e.g. trainer.epochs=3 "
        "model.backbone=resnet50 data.root=/data/market. Several processes: torchrun "
        "--nproc_per_node=N -m siamreid train --config ...",
    )
    parser.add_argument(
        "--config",
        help="recipe file (YAML or JSON); see configs/. With --resume and no --config, the run's "
        "own recipe.yaml",
    )
    parser.add_argument("--out", default="runs/train", help="run folder (default: runs/train)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again when --out holds a run (the folder is emptied first)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="SECTION.FIELD=VALUE", help="override recipe fields"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the recipe, then train and evaluate it."""
    recipe = load_run_recipe(args.out, args.config, args.overrides, resume=args.resume)
    run_recipe(recipe, args.out, resume=args.resume, overwrite=args.overwrite)
    return 0
