"""``siamreid evaluate``: Market-1501 metrics of a saved model on the query/gallery of one or
several datasets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from siamreid._io import atomic_write_json
from siamreid.cli._common import (
    CHECKPOINT_HELP,
    add_embedding_options,
    check_output,
    embed_paths,
    load_model,
)
from siamreid.cli._options import add_renamed
from siamreid.data.config import DatasetSource
from siamreid.data.registry import DATASETS, check_dataset_name, detect_dataset, load_source
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from siamreid.evaluation import RankMetrics
    from siamreid.models.embedder import SiameseEmbedder
    from siamreid.typing import Metric


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="Rank-k, mAP and mINP of a saved model on one or several datasets",
        description="Embed the query and gallery images of each test dataset with a saved model "
        "and print CMC Rank-1/5/10, mAP and mINP under the Market-1501 protocol (gallery images "
        "of the query's person taken by the query's camera are ignored). Each dataset is "
        "evaluated on its own; with several, a table of all of them ends the output (the "
        "cross-domain table: train on one dataset, test on others). Give one dataset with "
        "--root (and --dataset), or several with --test NAME ROOT (repeated), or both.",
    )
    parser.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    add_renamed(
        parser,
        "--dataset",
        "--data",
        metavar="NAME",
        help=f"dataset of --root, one of {', '.join(DATASETS)} (folder: ROOT/<person>/<image>, "
        "half the people held out as query/gallery; synthetic: generated into ROOT if "
        "absent); default: detected from the layout of --root (formerly --data)",
    )
    parser.add_argument("--root", metavar="DIR", help="dataset folder of --dataset")
    parser.add_argument(
        "--test",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "ROOT"),
        help="a test dataset and its folder; repeat for several (evaluated after --root's)",
    )
    parser.add_argument(
        "--rerank", action="store_true", help="apply k-reciprocal re-ranking (k1=20, k2=6)"
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the metrics to FILE as JSON: the first test set's at the top level, "
        "every test set's under test_sets",
    )
    add_embedding_options(parser)
    parser.set_defaults(run=run)


def _test_sources(args: argparse.Namespace) -> list[DatasetSource]:
    """The test datasets the options name, ``--root``'s first; each label once."""
    given: list[tuple[Any, str, str]] = []  # names are checked below
    if args.root is not None:
        given.append((args.dataset or _detected(args.root), args.root, "--dataset"))
    elif args.dataset is not None:
        raise ConfigError(f"--dataset {args.dataset} needs --root DIR, the dataset's folder.")
    given.extend((name, root, "--test NAME") for name, root in args.test)
    if not given:
        raise ConfigError(
            "No test dataset: give --root DIR (with --dataset NAME) or --test NAME ROOT."
        )
    sources: list[DatasetSource] = []
    for name, root, where in given:
        check_dataset_name(name, where=where)
        label = name if all(s.label != name for s in sources) else f"{name} ({root})"
        sources.append(DatasetSource(name, root, name="" if label == name else label))
    return sources


def _detected(root: str) -> str:
    """The dataset ``root`` holds, by its layout; said on stdout so that nobody has to guess."""
    name = detect_dataset(root, where="--root", name_with="--dataset NAME")
    print(f"--root {root}: detected dataset {name} (give --dataset NAME to choose another)")
    return name


def run(args: argparse.Namespace) -> int:
    """Load the model and each test dataset, embed, evaluate, print."""
    if args.json:
        check_output(args.json, what="--json")
    from siamreid.runs.report import cross_domain_table

    sources = _test_sources(args)
    model = load_model(args.checkpoint, args.device)
    metric = model.config.metric
    results: dict[str, RankMetrics] = {}
    for source in sources:
        splits = load_source(source)
        print(splits.summary())
        metrics = results[source.label] = _evaluate(model, splits, args, metric=metric)
        label = "with re-ranking" if args.rerank else f"{metric} distance"
        print(f"{source.label} ({label}, {metrics.num_valid_queries} valid queries):")
        for name, value in metrics.to_dict().items():
            print(f"  {name:<7} {value:7.2%}")
    if len(results) > 1:
        print(cross_domain_table(results, trained_on=f"the model at {args.checkpoint}"))
    if args.json:
        tables = {label: metrics.to_dict() for label, metrics in results.items()}
        first = next(iter(tables.values()))
        saved = {"rerank": args.rerank, **first, "test_sets": tables}
        atomic_write_json(args.json, saved)
    return 0


def _evaluate(
    model: SiameseEmbedder, splits: ReidSplits, args: argparse.Namespace, *, metric: Metric
) -> RankMetrics:
    options = {"batch_size": args.batch_size, "workers": args.workers, "flip": args.flip}
    query = embed_paths(model, [s.path for s in splits.query], desc="query", **options)
    gallery = embed_paths(model, [s.path for s in splits.gallery], desc="gallery", **options)
    return _metrics(query, gallery, splits, rerank=args.rerank, metric=metric)


def _metrics(
    query: torch.Tensor,
    gallery: torch.Tensor,
    splits: ReidSplits,
    *,
    rerank: bool,
    metric: Metric,
) -> RankMetrics:
    from siamreid.evaluation import evaluate_features, evaluate_rank, re_rank_features

    labels = (
        ReidSplits.pids(splits.query),
        ReidSplits.pids(splits.gallery),
        ReidSplits.camids(splits.query),
        ReidSplits.camids(splits.gallery),
    )
    if rerank:
        return evaluate_rank(re_rank_features(query, gallery), *labels)
    return evaluate_features(query, gallery, *labels, metric=metric)
