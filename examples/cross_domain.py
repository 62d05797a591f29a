"""Train on one dataset, test on others: the cross-domain table researchers publish.

Shows: a recipe whose ``data`` section lists its training and test datasets, a run that trains
on the first (several training datasets would be merged, people and cameras kept apart) and
evaluates on every test set, ``metrics.json`` with one entry per test set, and the table printed
at the end (Rank-1/5/10, mAP and mINP of train -> test, in %).

    python examples/cross_domain.py --train market1501 data/market1501 \\
        --test market1501 data/market1501 --test dukemtmcreid data/duke \\
        --test msmt17 data/msmt17 --out runs/cross_domain

The real run uses the strong-baseline recipe (``configs/market1501_efficientnet_b0.yaml``) and
takes as long as ``examples/reproduce_market1501.py`` plus one evaluation per extra test set;
download each dataset yourself and check it first with
``siamreid data check --dataset NAME --root DIR``.

``--smoke`` trains a tiny model for a few steps on a synthetic Market-1501 copy and tests it on
that copy and on a second one drawn with another seed (other people, other cameras): under a
minute on 2 CPU cores; a test runs it that way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from siamreid import load_recipe
from siamreid.runs.pipeline import run_recipe

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "market1501_efficientnet_b0.yaml"

SMOKE = [
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


def _entries(pairs: list[list[str]]) -> str:
    """``[[name, root], ...]`` as the YAML list of a recipe's ``data.train`` / ``data.test``."""
    return json.dumps([{"dataset": name, "root": root} for name, root in pairs])


def smoke_data(out: Path) -> list[str]:
    """Train on a synthetic copy (seed 0), test on it and on a second copy (seed 1)."""
    source = {"dataset": "synthetic", "synthetic_train_ids": 8, "synthetic_test_ids": 8}
    seen = {**source, "root": str(out / "data" / "seed0")}
    unseen = {**source, "root": str(out / "data" / "seed1"), "seed": 1, "name": "synthetic seed 1"}
    return [f"data.train={json.dumps([seen])}", f"data.test={json.dumps([seen, unseen])}"]


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Parse the command line and run the recipe."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--train",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "ROOT"),
        help="a training dataset (repeat to train on several at once)",
    )
    parser.add_argument(
        "--test",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "ROOT"),
        help="a test dataset (repeat; default: the training datasets)",
    )
    parser.add_argument("--out", default="runs/cross_domain", help="run folder")
    parser.add_argument("--no-pretrained", action="store_true", help="train from scratch")
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic run (< 1 min)")
    args = parser.parse_args(argv)
    if args.smoke:
        overrides = [*SMOKE, *smoke_data(Path(args.out))]
    elif not args.train:
        parser.error("--train NAME ROOT is required (or --smoke for the synthetic run)")
    else:
        overrides = [f"data.train={_entries(args.train)}"]
        if args.test:
            overrides.append(f"data.test={_entries(args.test)}")
    if args.no_pretrained:
        overrides.append("model.pretrained=false")
    return run_recipe(load_recipe(CONFIG, overrides), args.out)


if __name__ == "__main__":
    main()
