"""``siamreid embed``: embeddings of a folder of images, saved as ``.npz``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from siamreid._io import atomic_write_stream
from siamreid.cli._common import (
    CHECKPOINT_HELP,
    add_embedding_options,
    check_output,
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
    parser.add_argument(
        "--out", required=True, help="output .npz file ('.npz' is added to a name without it)"
    )
    add_embedding_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Embed the images and write the .npz file (atomically: a failure keeps the old one)."""
    out = Path(args.out)
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")  # as np.savez names it
    check_output(out, what="--out")
    import numpy as np

    paths = list_images(args.images, "IMAGES", args.on_bad_image)
    model = load_model(args.checkpoint, args.device)
    embeddings = embed_paths(
        model, paths, batch_size=args.batch_size, workers=args.workers, flip=args.flip
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    names = np.array([str(p) for p in paths])
    atomic_write_stream(out, lambda fh: np.savez(fh, paths=names, embeddings=embeddings.numpy()))
    print(f"wrote {len(paths)} embeddings of dimension {embeddings.shape[1]} to {out}")
    return 0
