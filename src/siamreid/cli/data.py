"""``siamreid data check``: read a dataset and compare its counts with the published ones."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from siamreid.cli._options import renamed_positional
from siamreid.data.config import DatasetSource
from siamreid.data.datasets.published import (
    PublishedCounts,
    SplitCounts,
    compare_counts,
    count_split,
)
from siamreid.data.registry import DATASETS, check_dataset_name, detect_dataset, load_source
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, InputError


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
        description="Read the dataset under --root as training would, print its identities, "
        "images and cameras per split, and, for a benchmark, each split's counts against the "
        "published ones (a difference usually means an incomplete download). A dataset that "
        "cannot be read is reported as one line naming the path and what was expected. "
        f"--dataset is one of: {', '.join(DATASETS)} (synthetic is generated into --root if "
        "absent); left out, it is detected from the folder's layout.",
    )
    check.add_argument("--dataset", metavar="NAME", help="dataset name (default: detected)")
    check.add_argument("--root", metavar="DIR", help="dataset folder (or the folder holding it)")
    # the old spelling `data check NAME ROOT`, kept as an alias (one deprecation line)
    check.add_argument(
        "old_name",
        nargs="?",
        metavar="NAME ROOT",
        help=argparse.SUPPRESS,
        action=renamed_positional("data check --dataset NAME --root DIR"),
    )
    check.add_argument("old_root", nargs="?", help=argparse.SUPPRESS)
    check.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the dataset's adapter (value read as YAML), repeatable; mot takes "
        "the fields of MOTOptions, e.g. --option frame_step=10 --option split=folders",
    )
    check.add_argument(
        "--camera-pattern",
        default=r"c(\d+)",
        help=r"folder datasets: regex whose group is the camera in a file name (default: c(\d+))",
    )
    check.add_argument(
        "--seed", type=int, default=0, help="folder/synthetic datasets: split or generator seed"
    )
    check.set_defaults(run=run_check)


def _source(args: argparse.Namespace) -> DatasetSource:
    """The dataset the options name (``--root`` is required, ``--dataset`` detected)."""
    name = args.dataset or args.old_name
    root = args.root or args.old_root
    if root is None:
        raise InputError("data check needs --root DIR, the dataset's folder.")
    if name is None:
        name = detect_dataset(root, where="--root", name_with="--dataset NAME")
        print(f"--root {root}: detected dataset {name} (give --dataset NAME to choose another)")
    check_dataset_name(name, where="--dataset")
    options = _options(args.option)
    return DatasetSource(
        name, root, camera_pattern=args.camera_pattern, seed=args.seed, options=options
    )


def _options(items: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` items as a mapping, values read as YAML (``10``, ``[1, 2]``)."""
    import yaml

    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {item!r} is not of the form KEY=VALUE.")
        options[key] = yaml.safe_load(raw)
    return options


def run_check(args: argparse.Namespace) -> int:
    """Load the dataset, print its summary and the comparison with the published counts."""
    source = _source(args)
    published = check_dataset_name(source.dataset).published()
    synthetic = published is not None and DATASETS["synthetic"].detect(source.path)
    splits = load_source(source)
    if published is None or synthetic:
        print(splits.summary())
        why = "a synthetic copy" if synthetic else f"{source.dataset}"
        print(f"  {why} has no published counts to compare with.")
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
