"""``siamreid evaluate``: Market-1501 metrics of a saved model on a dataset's query/gallery."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from siamreid.cli._common import CHECKPOINT_HELP, add_embedding_options, embed_paths, load_model
from siamreid.data.config import DataConfig, load_splits
from siamreid.data.samples import ReidSplits
from siamreid.evaluation import RankMetrics, evaluate_features, evaluate_rank, re_rank_features
from siamreid.typing import Metric


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="Rank-k, mAP and mINP of a saved model on a dataset",
        description="Embed the query and gallery images of a dataset with a saved model and "
        "print CMC Rank-1/5/10, mAP and mINP under the Market-1501 protocol (gallery images "
        "of the query's person taken by the query's camera are ignored).",
    )
    parser.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    parser.add_argument(
        "--data",
        choices=("market1501", "folder", "synthetic"),
        default="market1501",
        help="dataset layout: market1501 (the real layout), folder (ROOT/<person>/<image>, "
        "half the people held out as query/gallery) or synthetic (generated into ROOT if "
        "absent); default: market1501",
    )
    parser.add_argument("--root", required=True, help="dataset folder")
    parser.add_argument(
        "--rerank", action="store_true", help="apply k-reciprocal re-ranking (k1=20, k2=6)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the metrics to FILE as JSON")
    add_embedding_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the model and the data, embed, evaluate, print."""
    model = load_model(args.checkpoint, args.device)
    splits = load_splits(DataConfig(dataset=args.data, root=args.root))
    print(splits.summary())
    options = {"batch_size": args.batch_size, "workers": args.workers, "flip": args.flip}
    query = embed_paths(model, [s.path for s in splits.query], desc="query", **options)
    gallery = embed_paths(model, [s.path for s in splits.gallery], desc="gallery", **options)
    metric: Metric = model.config.metric
    metrics = _metrics(query, gallery, splits, rerank=args.rerank, metric=metric)
    label = "with re-ranking" if args.rerank else f"{metric} distance"
    print(f"{splits.name} ({label}, {metrics.num_valid_queries} valid queries):")
    table = metrics.to_dict()
    for name, value in table.items():
        print(f"  {name:<7} {value:7.2%}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rerank": args.rerank, **table}, indent=2))
    return 0


def _metrics(
    query: torch.Tensor,
    gallery: torch.Tensor,
    splits: ReidSplits,
    *,
    rerank: bool,
    metric: Metric,
) -> RankMetrics:
    labels = (
        ReidSplits.pids(splits.query),
        ReidSplits.pids(splits.gallery),
        ReidSplits.camids(splits.query),
        ReidSplits.camids(splits.gallery),
    )
    if rerank:
        return evaluate_rank(re_rank_features(query, gallery), *labels)
    return evaluate_features(query, gallery, *labels, metric=metric)
