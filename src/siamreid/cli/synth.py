"""``siamreid synth``: write the synthetic Market-1501 dataset."""

from __future__ import annotations

import argparse
from typing import Any

from siamreid.data.market1501 import Market1501
from siamreid.data.synthetic import make_synthetic_market


def register(subparsers: Any) -> None:
    """Add the ``synth`` sub-command."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic Market-1501 dataset",
        description="Write a synthetic dataset in the real Market-1501 layout (JPEG crops "
        "of procedurally drawn people seen by 6 cameras), readable by Market1501(root).",
    )
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--train-ids", type=int, default=100, help="training identities")
    parser.add_argument("--test-ids", type=int, default=100, help="held-out identities")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print its summary."""
    root = make_synthetic_market(
        args.out, num_train_ids=args.train_ids, num_test_ids=args.test_ids, seed=args.seed
    )
    print(Market1501(root).load().summary())
    print(f"written to {root}")
    return 0
