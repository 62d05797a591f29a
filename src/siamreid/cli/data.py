"""``siamreid data check``: read a dataset and compare its counts with the published ones."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from siamreid.data.config import DatasetSource
from siamreid.data.published import PublishedCounts, SplitCounts, compare_counts, count_split
from siamreid.data.registry import DATASETS, check_dataset_name, load_source
from siamreid.data.samples import ReidSplits


def register(subparsers: Any) -> None:
    """Add the ``data`` command group (``data check``)."""
    parser = subparsers.add_parser(
        "data",
        help="check a dataset on disk",
        description="Dataset tools.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="read a dataset and compare its counts with the published ones",
        description="Read the dataset NAME under ROOT as training would, print its identities, "
        "images and cameras per split, and, for a benchmark, each split's counts against the "
        "published ones (a difference usually means an incomplete download). A dataset that "
        "cannot be read is reported as one line naming the path and what was expected. "
        f"NAME is one of: {', '.join(DATASETS)} (synthetic is generated into ROOT if absent).",
    )
    check.add_argument("name", metavar="NAME", help="dataset name, e.g. market1501")
    check.add_argument("root", metavar="ROOT", help="dataset folder (or the folder holding it)")
    check.add_argument(
        "--camera-pattern",
        default=r"c(\d+)",
        help=r"folder datasets: regex whose group is the camera in a file name (default: c(\d+))",
    )
    check.add_argument(
        "--seed", type=int, default=0, help="folder/synthetic datasets: split or generator seed"
    )
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Load the dataset, print its summary and the comparison with the published counts."""
    published = check_dataset_name(args.name, where="NAME").published()
    source = DatasetSource(args.name, args.root, camera_pattern=args.camera_pattern, seed=args.seed)
    splits = load_source(source)
    if published is None:
        print(splits.summary())
        print(f"  {source.dataset} has no published counts to compare with.")
        return 0
    # the table below says what the adapter's count notes say, split by split
    repeated = set(compare_counts(splits, published))
    print(replace(splits, notes=tuple(n for n in splits.notes if n not in repeated)).summary())
    print(published_table(splits, published))
    return 0


def published_table(splits: ReidSplits, published: PublishedCounts) -> str:
    """Each split's identities and images next to the published ones, and whether they match."""
    rows = [
        f"  against {published.source}:",
        f"  {'subset':<8} | {'found':>27} | {'published':>27} |",
    ]
    expected: tuple[SplitCounts, ...] = (published.train, published.query, published.gallery)
    for name, samples, counts in zip(
        ("train", "query", "gallery"),
        (splits.train, splits.query, splits.gallery),
        expected,
        strict=True,
    ):
        found = count_split(samples)
        verdict = "ok" if found == counts else "DIFFERS"
        rows.append(f"  {name:<8} | {found!s:>27} | {counts!s:>27} | {verdict}")
    return "\n".join(rows)
