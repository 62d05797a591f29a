"""``siamreid train``: train and evaluate a recipe (also under ``torchrun`` for several GPUs)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from siamreid.errors import ConfigError


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
        "--dataset", metavar="NAME", help="the recipe's data.dataset (as every command names it)"
    )
    parser.add_argument("--root", metavar="DIR", help="the recipe's data.root")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again when --out holds a run (the folder is emptied first)",
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(  # SUPPRESS: an absent flag leaves the global -v as it was
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the epoch lines and notes (the default of train; also siamreid -v train)",
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only warnings and errors, no progress bar (log.txt keeps everything)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="SECTION.FIELD=VALUE", help="override recipe fields"
    )
    parser.set_defaults(run=run, log_level=logging.INFO)


def _data_overrides(args: argparse.Namespace) -> list[str]:
    """``--dataset``/``--root`` as the recipe overrides they stand for (values quoted)."""
    pairs = (("data.dataset", args.dataset), ("data.root", args.root))
    return [f"{key}={json.dumps(value)}" for key, value in pairs if value is not None]


def run(args: argparse.Namespace) -> int:
    """Load the recipe, then train and evaluate it."""
    from siamreid.runs.folder import load_run_recipe
    from siamreid.runs.pipeline import run_recipe

    quiet = getattr(args, "quiet", False)
    overrides = [*_data_overrides(args), *args.overrides]
    if quiet:
        overrides.append("trainer.output.progress=false")
    recipe = load_run_recipe(args.out, args.config, overrides, resume=args.resume)
    if (args.dataset or args.root) and recipe.data.train is not None:
        raise ConfigError(
            "--dataset/--root set the recipe's single dataset, but it lists data.train; set "
            "data.train[...] in the recipe instead."
        )
    echo = _silent if quiet else print
    run_recipe(recipe, args.out, resume=args.resume, overwrite=args.overwrite, echo=echo)
    return 0


def _silent(line: str) -> None:
    """``--quiet``: the run's lines go to its log.txt only."""
