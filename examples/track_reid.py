"""Re-identify people across cameras: match new crops to known people, or call them new.

Shows the deployment loop of a multi-camera tracker on person crops:

1. load a trained model (``SiameseEmbedder.from_pretrained`` / ``load_pretrained``);
2. calibrate the "new person" distance threshold on validation identities
   (``siamreid.evaluation.threshold``: each validation query's nearest same-person and nearest
   other-person distance, threshold maximising balanced accuracy);
3. enrol the known people: their gallery crops go into a ``Retriever`` index;
4. for every new crop (people enrolled and people never seen), find the nearest enrolled crop
   and print "person N" when it is within the threshold, else "new person".

The dataset's held-out identities are split three ways (calibration / enrolled / never seen),
so the threshold is chosen on people the index does not hold and the model never trained on.

    python examples/track_reid.py --checkpoint runs/demo --root data/market1501

Market-1501's 750 test identities take a few minutes with EfficientNet-B0 on 2 CPU cores
(embedding 23k crops at 256x128 dominates; seconds on a GPU). ``--smoke`` runs the same loop
on 30 synthetic people with an untrained ``test_efficientnet`` at 64x32 in about 5-10 s on 2
CPU cores (a test runs it that way): it checks the mechanics, not the accuracy, which an
untrained model keeps near chance. For meaningful numbers point ``--checkpoint`` at a trained
run, e.g. ``siamreid demo --out runs/demo`` then ``--checkpoint runs/demo --root
runs/demo/data``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from siamreid.data import DataConfig, ReidSample, ReidSplits, load_splits, make_synthetic_market
from siamreid.evaluation.threshold import (
    DistanceThreshold,
    calibrate_threshold,
    nearest_match_distances,
)
from siamreid.models import SiameseEmbedder, load_pretrained
from siamreid.retrieval import Retriever


@dataclass(frozen=True)
class Roles:
    """Held-out identities split into calibration, enrolled and never-seen people."""

    calibration: set[int]
    enrolled: set[int]
    unseen: set[int]


def split_identities(splits: ReidSplits, seed: int) -> Roles:
    """Shuffle the query identities (distractors excluded) and cut them in three."""
    pids = sorted({s.pid for s in splits.query if s.pid > 0})
    order = np.random.default_rng(seed).permutation(pids).tolist()
    third = len(order) // 3
    return Roles(set(order[:third]), set(order[third : 2 * third]), set(order[2 * third :]))


def embed(model: SiameseEmbedder, samples: Sequence[ReidSample]) -> torch.Tensor:
    """Embeddings of the samples' images."""
    return model.embed([s.path for s in samples], batch_size=128)


def calibrate(model: SiameseEmbedder, splits: ReidSplits, pids: set[int]) -> DistanceThreshold:
    """The threshold from the calibration people's query-to-gallery nearest distances."""
    query = [s for s in splits.query if s.pid in pids]
    gallery = [s for s in splits.gallery if s.pid in pids]
    same, diff = nearest_match_distances(
        embed(model, query), [s.pid for s in query], embed(model, gallery), [s.pid for s in gallery]
    )
    return calibrate_threshold(same, diff)


def enrol(model: SiameseEmbedder, splits: ReidSplits, pids: set[int]) -> Retriever:
    """An index of the enrolled people's gallery crops."""
    gallery = [s for s in splits.gallery if s.pid in pids]
    index = Retriever(model)
    index.add(
        embed(model, gallery),
        ids=[s.pid for s in gallery],
        camids=ReidSplits.camids(gallery),
        paths=[str(s.path) for s in gallery],
    )
    return index


def identify(
    model: SiameseEmbedder,
    index: Retriever,
    crops: Sequence[ReidSample],
    threshold: DistanceThreshold,
    show: int,
) -> list[int | None]:
    """For each crop, the known person it is, or ``None`` for a new person; prints the first."""
    result = index.search(embed(model, crops), k=1)
    known = set(index.ids.tolist())
    decisions: list[int | None] = []
    for i, crop in enumerate(crops):
        d, pid = float(result.distances[i, 0]), int(result.ids[i, 0])
        decisions.append(pid if d <= threshold.threshold else None)
        if i < show:
            said = "new person" if decisions[-1] is None else f"person {pid:04d}"
            right = decisions[-1] == (crop.pid if crop.pid in known else None)
            cam = "?" if crop.camid is None else f"c{crop.camid + 1}"
            print(
                f"  {cam}  {crop.path.name:<28} -> {said:<12} (nearest {pid:04d}, d={d:.3f})"
                f"  {'right' if right else 'wrong'}"
            )
    return decisions


def summarize(
    crops: Sequence[ReidSample], decisions: Sequence[int | None], enrolled: set[int]
) -> dict[str, float]:
    """Accuracy on enrolled people's crops (right person) and on unseen people's (new)."""
    known = [(c, d) for c, d in zip(crops, decisions, strict=True) if c.pid in enrolled]
    unseen = [(c, d) for c, d in zip(crops, decisions, strict=True) if c.pid not in enrolled]
    return {
        "known_crops": len(known),
        "known_identified": float(np.mean([d == c.pid for c, d in known])),
        "known_called_new": float(np.mean([d is None for _, d in known])),
        "unseen_crops": len(unseen),
        "unseen_called_new": float(np.mean([d is None for _, d in unseen])),
    }


def smoke_model(root: Path, seed: int) -> tuple[SiameseEmbedder, ReidSplits]:
    """Synthetic crops of 30 held-out people and an untrained ``test_efficientnet`` at 64x32."""
    if not (root / "Market-1501-v15.09.15").is_dir():
        make_synthetic_market(root, num_train_ids=2, num_test_ids=30, seed=seed)
    splits = load_splits(DataConfig(dataset="market1501", root=str(root)))
    model = SiameseEmbedder(
        "test_efficientnet", 64, pretrained=False, input_size=(64, 32), seed=seed
    )
    return model, splits


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse the command line, run the loop, print and return the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="saved model or training run folder")
    parser.add_argument("--root", help="dataset folder (Market-1501 layout, or see --dataset)")
    parser.add_argument("--dataset", choices=("market1501", "folder"), default="market1501")
    parser.add_argument("--out", default="runs/track_reid", help="where --smoke writes its data")
    parser.add_argument("--show", type=int, default=12, help="crops printed one by one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the identity split")
    parser.add_argument("--smoke", action="store_true", help="synthetic data, tiny model")
    args = parser.parse_args(argv)
    if args.smoke:
        model, splits = smoke_model(Path(args.out) / "data", args.seed)
    elif args.checkpoint is None or args.root is None:
        parser.error("--checkpoint and --root are required (or --smoke)")
    else:
        model = load_pretrained(args.checkpoint)
        splits = load_splits(DataConfig(dataset=args.dataset, root=args.root))
    roles = split_identities(splits, args.seed)
    threshold = calibrate(model, splits, roles.calibration)
    print(
        f"threshold {threshold.threshold:.3f} from {len(roles.calibration)} calibration people "
        f"(true accept {threshold.true_accept_rate:.1%}, false accept "
        f"{threshold.false_accept_rate:.1%})"
    )
    index = enrol(model, splits, roles.enrolled)
    print(f"enrolled {len(roles.enrolled)} people ({len(index)} crops); new crops:")
    crops = [s for s in splits.query if s.pid in roles.enrolled | roles.unseen]
    decisions = identify(model, index, crops, threshold, args.show)
    summary = {"threshold": threshold.threshold, **summarize(crops, decisions, roles.enrolled)}
    print(
        f"known people: {summary['known_identified']:.1%} of {summary['known_crops']} crops "
        f"named right ({summary['known_called_new']:.1%} called new); never-seen people: "
        f"{summary['unseen_called_new']:.1%} of {summary['unseen_crops']} crops called new"
    )
    return summary


if __name__ == "__main__":
    main()
