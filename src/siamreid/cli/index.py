"""``siamreid index build``: a searchable gallery index from a folder of person images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from siamreid.cli._common import (
    CHECKPOINT_HELP,
    add_embedding_options,
    check_output,
    embed_paths,
    list_images,
    load_model,
)
from siamreid.errors import DatasetLayoutError


def register(subparsers: Any) -> None:
    """Add the ``index`` command group (``index build``)."""
    parser = subparsers.add_parser(
        "index",
        help="build a searchable gallery index",
        description="Gallery indexes for 'siamreid search'.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build",
        help="embed a gallery folder into an index",
        description="Embed every image below GALLERY and save a retrieval index in OUT, with "
        "a copy of the model, so that 'siamreid search --index OUT' needs nothing else. "
        "Identities come from Market-1501 file names (0002_c1s1_000451_03.jpg: person 2, "
        "camera 1; junk '-1_...' files are skipped) or from sub-folders (GALLERY/<person>/"
        "*.jpg; non-numeric folder names are numbered, and the names kept in the index).",
    )
    build.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    build.add_argument("gallery", metavar="GALLERY", help="folder of gallery images")
    build.add_argument("--out", required=True, metavar="OUT", help="index folder to write")
    build.add_argument(
        "--backend",
        choices=("torch", "faiss"),
        default="torch",
        help="torch (exact brute force, default) or faiss (needs siamreid[faiss])",
    )
    build.add_argument(
        "--index-type",
        choices=("flat", "ivf", "hnsw"),
        default="flat",
        help="flat (exact, default); ivf or hnsw (approximate, faiss only)",
    )
    add_embedding_options(build, flip=False)
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    """Embed the gallery and save the index, the model and the id names."""
    check_output(args.out, what="--out", folder=True)
    from siamreid.data.labels import identities
    from siamreid.retrieval import Retriever

    root = Path(args.gallery)
    people = identities(list_images(root, "GALLERY", args.on_bad_image), root)
    if not people.paths:  # before the model loads and before anything is written
        raise DatasetLayoutError(
            f"GALLERY {str(root)!r} has no images to index: all {people.skipped} are "
            "Market-1501 junk ('-1_...' names, which the protocol drops); point GALLERY at "
            "the folder of the people's images."
        )
    model = load_model(args.checkpoint, args.device)
    retriever = Retriever(
        model,
        backend=args.backend,
        index=args.index_type,
        metric=model.config.metric,
        names=people.names,
    )
    embeddings = embed_paths(
        model, people.paths, batch_size=args.batch_size, workers=args.workers, desc="gallery"
    )
    retriever.add(embeddings, ids=people.ids, camids=people.camids, paths=people.paths)
    out = retriever.save(args.out)  # the bundle: embeddings, names and a copy of the model
    junk = f", {people.skipped} junk images skipped" if people.skipped else ""
    print(
        f"indexed {len(retriever)} images of {len(set(people.ids))} people{junk}; "
        f"wrote {out} ({args.backend} {args.index_type}, {retriever.metric} distance)"
    )
    return 0
