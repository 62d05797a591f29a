"""What the model-using commands share: options, loading the model, listing and embedding images."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from siamreid._io import check_output
from siamreid.errors import DatasetLayoutError, InputError

if TYPE_CHECKING:  # the commands' parsers are built without torch: `--help` answers at once
    import torch

    from siamreid.data.torch_data import BadImagePolicy
    from siamreid.models.embedder import SiameseEmbedder

__all__ = [
    "add_embedding_options",
    "check_output",
    "embed_paths",
    "list_images",
    "load_model",
    "positive_float",
    "printable",
]

CHECKPOINT_HELP = (
    "saved model: a folder from save_pretrained, a training run folder (runs/NAME), a "
    "checkpoint folder, hf-hub:org/name, a torchreid / BoxMOT / fast-reid checkpoint file "
    "(.pth, .pt, .pth.tar), or zoo:NAME (siamreid zoo list)"
)


def add_embedding_options(parser: argparse.ArgumentParser, *, flip: bool = True) -> None:
    """``--batch-size``, ``--workers``, ``--device`` (and ``--flip``)."""
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument(
        "--workers",
        type=int,
        help="image decoding processes (default: as in training, one per spare core up to 8 "
        "and none on CPU-only machines of 1 or 2 cores; 0: none)",
    )
    parser.add_argument(
        "--device", help="cpu, cuda, cuda:1, mps... (default: CUDA, then MPS, then CPU)"
    )
    parser.add_argument(
        "--on-bad-image",
        choices=("raise", "skip"),
        default="raise",
        help="an unreadable image stops the command (raise, default) or is left out with a "
        "warning (skip)",
    )
    if flip:
        parser.add_argument(
            "--flip", action="store_true", help="average each image's and its mirror's embedding"
        )


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (argparse names the option in its error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number")
    return value


def load_model(source: str, device: str | None) -> SiameseEmbedder:
    """The saved model at ``source``, on ``device`` (by default CUDA, MPS or CPU, as training)."""
    from siamreid.models import load_pretrained
    from siamreid.training.device import select_device

    model = load_pretrained(source)
    return model.to(select_device(device, what="--device"))


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a stored name cannot drive the terminal."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def list_images(
    source: str | os.PathLike[str], what: str, on_bad_image: BadImagePolicy = "raise"
) -> list[Path]:
    """One image file, or the images below a folder (sorted); none found is an error.

    With ``on_bad_image="skip"`` every image is decoded once and the unreadable ones are left
    out, each named in a warning on stderr.
    """
    from siamreid.data.images import find_images
    from siamreid.data.torch_data import unreadable_images

    found = find_images(source, what)
    if on_bad_image == "raise":
        return found
    bad = unreadable_images(found)
    for path, reason in sorted(bad.items()):
        print(f"siamreid: warning: skipping {printable(str(path))}: {reason}", file=sys.stderr)
    kept = [p for p in found if p not in bad]
    if not kept:
        raise DatasetLayoutError(f"{what} {str(source)!r}: no image is readable.")
    return kept


def embed_paths(
    model: SiameseEmbedder,
    paths: Sequence[Path],
    *,
    batch_size: int,
    workers: int | None,
    flip: bool = False,
    desc: str = "embedding",
) -> torch.Tensor:
    """Float32 ``[N, D]`` embeddings of image files (``SiameseEmbedder.embed``, with the
    command's options and a progress bar on terminals); ``workers=None`` counts them as the
    Trainer does for the model's device."""
    from siamreid.training.device import default_num_workers

    if workers is None:
        workers = default_num_workers(next(model.parameters()).device)
    if batch_size < 1 or workers < 0:
        raise InputError(
            f"--batch-size must be >= 1 and --workers >= 0; got {batch_size}, {workers}."
        )
    return model.embed(
        list(paths), batch_size=batch_size, flip=flip, num_workers=workers, progress=desc
    )
