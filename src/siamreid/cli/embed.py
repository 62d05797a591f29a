"""``siamreid embed``: embeddings of a folder of images, saved as ``.npz``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from siamreid.cli._common import (
    CHECKPOINT_HELP,
    add_embedding_options,
    embed_paths,
    list_images,
    load_model,
)


def register(subparsers: Any) -> None:
    """Add the ``embed`` sub-command."""
    parser = subparsers.add_parser(
        "embed",
        help="embed a folder of images into an .npz file",
        description="Embed every image below IMAGES (jpg, jpeg, png, bmp, webp; sub-folders "
        "included) with a saved model. The .npz file holds 'paths' (N strings, sorted) and "
        "'embeddings' (N x D float32): np.load(OUT)['embeddings'].",
    )
    parser.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    parser.add_argument("images", metavar="IMAGES", help="an image folder (or one image)")
    parser.add_argument("--out", required=True, help="output .npz file")
    add_embedding_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Embed the images and write the .npz file."""
    import numpy as np

    paths = list_images(args.images, "IMAGES", args.on_bad_image)
    model = load_model(args.checkpoint, args.device)
    embeddings = embed_paths(
        model, paths, batch_size=args.batch_size, workers=args.workers, flip=args.flip
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, paths=np.array([str(p) for p in paths]), embeddings=embeddings.numpy())
    written = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
    print(f"wrote {len(paths)} embeddings of dimension {embeddings.shape[1]} to {written}")
    return 0
