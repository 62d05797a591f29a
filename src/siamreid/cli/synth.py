"""``siamreid synth``: write the synthetic Market-1501 dataset, or (``--mot``) synthetic
MOTChallenge sequences."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``synth`` sub-command."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic Market-1501 dataset (or, with --mot, MOTChallenge sequences)",
        description="Write a synthetic dataset in the real Market-1501 layout (JPEG crops "
        "of procedurally drawn people seen by 6 cameras), readable by Market1501(root); with "
        "--mot, MOTChallenge-format sequences of the same people walking across each camera "
        "(root/train/SYN-01/img1/000001.jpg, gt/gt.txt, seqinfo.ini), readable by "
        "MOTChallenge(root).",
    )
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what an earlier 'siamreid synth' wrote there (a folder that also holds "
        "other files is refused, naming them)",
    )
    market = parser.add_argument_group("Market-1501")
    market.add_argument("--train-ids", type=int, default=100, help="training identities")
    market.add_argument("--test-ids", type=int, default=100, help="held-out identities")
    mot = parser.add_argument_group("MOTChallenge sequences")
    mot.add_argument("--mot", action="store_true", help="write MOTChallenge sequences instead")
    mot.add_argument("--sequences", type=int, default=4, help="sequences (half in test/)")
    mot.add_argument("--frames", type=int, default=60, help="frames per sequence")
    mot.add_argument("--people", type=int, default=6, help="pedestrians per sequence")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print its summary."""
    from siamreid.data.datasets.market1501 import Market1501
    from siamreid.data.synthetic.market import make_synthetic_market

    if args.mot:
        return _run_mot(args)
    root = make_synthetic_market(
        args.out,
        num_train_ids=args.train_ids,
        num_test_ids=args.test_ids,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(Market1501(root).load().summary())
    print(f"written to {root}")
    return 0


def _run_mot(args: argparse.Namespace) -> int:
    from siamreid.data.datasets._mot_format import parse_gt, parse_seqinfo
    from siamreid.data.synthetic.mot import make_synthetic_mot

    root = make_synthetic_mot(
        args.out,
        num_sequences=args.sequences,
        num_frames=args.frames,
        num_people=args.people,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print("  split | sequence | frames | tracks | boxes (pedestrian, flag 1)")
    for folder in sorted(root.glob("*/*/seqinfo.ini")):
        info = parse_seqinfo(folder)
        boxes = parse_gt(folder.parent / "gt" / "gt.txt")
        people = [b for b in boxes if b.flag == 1 and b.cls == 1]
        tracks = len({b.track_id for b in boxes})
        split = folder.parent.parent.name
        print(
            f"  {split:<5} | {info.name:<8} | {info.length:6d} | {tracks:6d} | {len(boxes):5d} "
            f"({len(people)})"
        )
    print(f"written to {Path(root)}; read it with MOTChallenge({str(root)!r}).load()")
    return 0
