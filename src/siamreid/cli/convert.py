"""``siamreid convert``: a peer's checkpoint (torchreid, BoxMOT, fast-reid) as a siamreid model."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``convert`` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="write a torchreid / BoxMOT / fast-reid checkpoint as a siamreid model folder",
        description="Read a peer's checkpoint (.pth, .pt, .pth.tar: a torchreid or BoxMOT "
        "OSNet, ResNet-50 or MobileNetV2; a fast-reid ResNet-50 BoT) or a zoo model "
        "(zoo:NAME, see `siamreid zoo list`) without running any code in it, and write it as a "
        "siamreid model folder (model.safetensors + config.json). The architecture is read "
        "from the keys; the identity classifier is kept.",
    )
    parser.add_argument("source", help="peer checkpoint file, or zoo:NAME")
    parser.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    parser.add_argument(
        "--arch",
        metavar="ARCH",
        help="the checkpoint's architecture, when the keys do not tell it (e.g. osnet_x0_25, "
        "resnet50; an unknown name is refused with the list of known ones)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import the checkpoint and save it."""
    from siamreid.models import load_pretrained, save_pretrained

    model = load_pretrained(args.source, arch=args.arch)
    folder = save_pretrained(model, args.out)
    cfg = model.config
    classes = f"{cfg.num_classes} identities" if cfg.num_classes else "no classifier"
    print(
        f"{args.source} -> {folder}: {cfg.backbone}, {cfg.embedding_dim}-d embeddings, "
        f"{classes}, input {cfg.input_size[0]}x{cfg.input_size[1]}"
    )
    return 0
