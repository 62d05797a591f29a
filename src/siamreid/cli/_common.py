"""What the model-using commands share: options, loading the model, listing and embedding images."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from siamreid.data.datasets import BadImagePolicy, ReidImageDataset, unreadable_images
from siamreid.data.images import IMAGE_SUFFIXES, image_paths
from siamreid.data.market1501 import parse_market1501_name
from siamreid.data.samples import ReidSample
from siamreid.errors import DatasetLayoutError
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.serialization import load_pretrained
from siamreid.training.device import select_device

__all__ = [
    "Identities",
    "add_embedding_options",
    "embed_paths",
    "identities",
    "list_images",
    "load_model",
    "printable",
]

CHECKPOINT_HELP = (
    "saved model: a folder from save_pretrained, a training run folder (runs/NAME), a "
    "checkpoint folder, or hf-hub:org/name"
)


def default_workers() -> int:
    """DataLoader workers: the usable cores, at most 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, cores or 1)


def add_embedding_options(parser: argparse.ArgumentParser, *, flip: bool = True) -> None:
    """``--batch-size``, ``--workers``, ``--device`` (and ``--flip``)."""
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="image decoding processes (default: the usable cores, at most 8; 0: none)",
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


def load_model(source: str, device: str | None) -> SiameseEmbedder:
    """The saved model at ``source``, on ``device`` (by default CUDA, MPS or CPU, as training)."""
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
    found = _image_files(source, what)
    if on_bad_image == "raise":
        return found
    bad = unreadable_images(found)
    for path, reason in sorted(bad.items()):
        print(f"siamreid: warning: skipping {printable(str(path))}: {reason}", file=sys.stderr)
    kept = [p for p in found if p not in bad]
    if not kept:
        raise DatasetLayoutError(f"{what} {str(source)!r}: no image is readable.")
    return kept


def _image_files(source: str | os.PathLike[str], what: str) -> list[Path]:
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DatasetLayoutError(
                f"{what} {str(path)!r} is not an image ({', '.join(sorted(IMAGE_SUFFIXES))})."
            )
        return [path]
    if not path.is_dir():
        raise DatasetLayoutError(f"{what} {str(path)!r} does not exist; check the path.")
    found = image_paths(path)
    if not found:
        raise DatasetLayoutError(
            f"{what} {str(path)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    return found


def embed_paths(
    model: SiameseEmbedder,
    paths: Sequence[Path],
    *,
    batch_size: int,
    workers: int,
    flip: bool = False,
    desc: str = "embedding",
) -> torch.Tensor:
    """Float32 ``[N, D]`` embeddings of image files: decoded by ``workers`` processes, with a
    progress bar on terminals."""
    if batch_size < 1 or workers < 0:
        raise ValueError(
            f"--batch-size must be >= 1 and --workers >= 0; got {batch_size}, {workers}."
        )
    samples = [ReidSample(Path(p), pid=0, camid=None) for p in paths]
    loader = DataLoader(
        ReidImageDataset(samples, model.eval_transform),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=next(model.parameters()).device.type == "cuda",
    )
    parts = [
        model.embed(images, batch_size=batch_size, flip=flip)
        for images, _, _ in tqdm(loader, desc=desc, unit="batch", disable=None)
    ]
    return torch.cat(parts) if parts else torch.empty(0, model.embedding_dim)


@dataclass(frozen=True)
class Identities:
    """Identities read from image paths.

    Attributes:
        paths: The images kept (Market-1501 junk, ``-1_...``, is dropped).
        ids: One integer id per kept image.
        camids: One 0-based camera per image, or ``None`` unless every name has a camera.
        names: Folder name of each id, when ids come from non-numeric folder names.
        skipped: Junk images dropped.
    """

    paths: list[Path]
    ids: list[int]
    camids: list[int] | None
    names: dict[int, str] | None
    skipped: int


def identities(
    paths: Sequence[Path], root: Path, names: dict[int, str] | None = None
) -> Identities:
    """Ids from Market-1501 file names (``0002_c1s1_000451_03.jpg``), else from the first
    sub-folder under ``root`` (``root/<id>/image.jpg``): numeric folder names are the ids;
    others are looked up in ``names`` (-1 when absent), or without ``names`` numbered in
    sorted order."""
    parsed: list[tuple[Path, int | str, int | None]] = []
    skipped = 0
    for path in paths:
        try:
            pid, camid = parse_market1501_name(path.name)
        except DatasetLayoutError:
            parsed.append((path, _folder_label(path, root), None))
            continue
        if pid == -1:
            skipped += 1
        else:
            parsed.append((path, pid, camid))
    labels = {label for _, label, _ in parsed if isinstance(label, str)}
    table = _label_ids(labels, names)
    ids = [label if isinstance(label, int) else table[label] for _, label, _ in parsed]
    cams = [camid for _, _, camid in parsed]
    camids = None if any(c is None for c in cams) else [int(c) for c in cams if c is not None]
    named = None if names is not None or _all_numeric(labels) else {v: k for k, v in table.items()}
    return Identities([p for p, _, _ in parsed], ids, camids, named or names, skipped)


def _folder_label(path: Path, root: Path) -> str:
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        parts = ()
    if len(parts) < 2:
        raise DatasetLayoutError(
            f"Cannot tell whose image {str(path)!r} is: name it Market-1501 style "
            "(0002_c1s1_000451_03.jpg) or put it in a sub-folder named after the person "
            f"({root}/<id>/{path.name})."
        )
    return parts[0]


def _all_numeric(labels: set[str]) -> bool:
    return all(label.isdigit() for label in labels)


def _label_ids(labels: set[str], names: dict[int, str] | None) -> dict[str, int]:
    if _all_numeric(labels):
        return {label: int(label) for label in labels}
    if names is not None:  # ids of an existing index; an unknown name gets -1
        by_name = {name: pid for pid, name in names.items()}
        return {label: by_name.get(label, -1) for label in labels}
    return {label: i for i, label in enumerate(sorted(labels))}
