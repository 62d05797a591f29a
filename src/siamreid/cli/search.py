"""``siamreid search``: the nearest gallery people of query images, as a table (and a plot)."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from siamreid.cli._common import (
    add_embedding_options,
    check_output,
    embed_paths,
    list_images,
    load_model,
    printable,
)
from siamreid.errors import ConfigError, DatasetLayoutError, IndexFormatError

if TYPE_CHECKING:
    from siamreid.models.embedder import SiameseEmbedder
    from siamreid.retrieval import Retriever, SearchResult

_OUTSIDE = "outside the\nindex folder:\nnot opened\n(--allow-\noutside-paths)"
_HEADER = f"  {'rank':>4}  {'person':<12} {'camera':>6}  {'distance':>8}  path"


def register(subparsers: Any) -> None:
    """Add the ``search`` sub-command."""
    parser = subparsers.add_parser(
        "search",
        help="find the nearest gallery people of query images",
        description="Embed QUERY (an image or a folder of images) with the index's model and "
        "print, for each image, its K nearest gallery images: rank, person id, camera, "
        "distance and path.",
    )
    parser.add_argument("--index", required=True, help="index folder from 'siamreid index build'")
    parser.add_argument("query", metavar="QUERY", help="a query image or a folder of them")
    parser.add_argument("--k", type=int, default=10, help="matches per query (default: 10)")
    parser.add_argument(
        "--checkpoint", help="model to embed queries with (default: the index's own copy)"
    )
    parser.add_argument(
        "--allow-other-model",
        action="store_true",
        help="accept a --checkpoint whose weights differ from the model that built the index",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="draw the first queries and their matches, green where the person is the "
        "query's, red where not (query ids from Market-1501 names or <person>/ sub-folders; "
        "a query without one gets grey frames)",
    )
    parser.add_argument(
        "--plot-queries", type=int, default=8, help="queries drawn in --plot (default: 8)"
    )
    parser.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let --plot open gallery images stored outside the index folder (by default "
        "they are listed but drawn as placeholders: anyone can rewrite an index's paths)",
    )
    add_embedding_options(parser, flip=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the index and its model, search, print (and plot)."""
    if args.plot:
        check_output(args.plot, what="--plot")

    retriever, model = _load(args)
    names = retriever.names
    root = Path(args.query)
    paths = list_images(root, "QUERY", args.on_bad_image)
    drawn = paths[: max(args.plot_queries, 0)] if args.plot else []
    label_root = root if root.is_dir() else root.parent.parent
    drawn_ids = _query_ids(drawn, label_root, names or {})
    queries = embed_paths(
        model, paths, batch_size=args.batch_size, workers=args.workers, desc="query"
    )
    result = retriever.search(queries, k=args.k)
    for row, path in enumerate(paths):
        print(_table(path, result, row, names))
    if args.plot:
        _plot(args.plot, drawn, drawn_ids, result, retriever, args.index, names or {})
    return 0


def _load(args: argparse.Namespace) -> tuple[Retriever, SiameseEmbedder]:
    """The index, with the model given by --checkpoint or else the index's own copy."""
    from siamreid.retrieval import Retriever

    index = Path(args.index)
    if args.checkpoint:
        model = load_model(args.checkpoint, args.device)
        retriever = Retriever.load(
            index,
            embedder=model,
            allow_other_model=args.allow_other_model,
            allow_outside_paths=args.allow_outside_paths,
        )
        return retriever, model
    retriever = Retriever.load(
        index,
        load_model=lambda folder: load_model(str(folder), args.device),
        allow_outside_paths=args.allow_outside_paths,
    )
    if retriever.embedder is None:
        raise IndexFormatError(
            f"Index {str(index)!r} holds no copy of the model that built it; pass the model "
            "with --checkpoint."
        )
    return retriever, cast("SiameseEmbedder", retriever.embedder)


def _table(query: Path, result: SearchResult, row: int, names: dict[int, str] | None) -> str:
    lines = [
        f"query {printable(str(query))}",
        f"  {'rank':>4}  {'person':<12} {'camera':>6}  {'distance':>8}  path",
    ]
    camids = result.camids
    for col in range(result.k):
        pid = int(result.ids[row, col])
        person = printable(names.get(pid, str(pid)) if names else str(pid))
        camera = "-" if camids is None else f"c{int(camids[row, col]) + 1}"
        path = printable(result.paths[row][col]) if result.paths else "-"
        lines.append(
            f"  {col + 1:>4}  {person:<12} {camera:>6}  {float(result.distances[row, col]):8.4f}"
            f"  {path}"
        )
    return "\n".join(lines)


def _query_ids(paths: list[Path], root: Path, names: dict[int, str]) -> list[int | None]:
    """Each query's identity by the labelling rule, ``None`` where it has none: no Market-1501
    name or person folder, a junk (``-1_``) name, or a person the index does not know."""
    from siamreid.data.labels import identities

    ids: list[int | None] = []
    for path in paths:
        try:
            found = identities([path], root, names).ids
        except DatasetLayoutError:
            found = []
        ids.append(found[0] if found and found[0] >= 0 else None)
    return ids


def _plot(
    target: str,
    paths: list[Path],
    ids: list[int | None],
    result: SearchResult,
    retriever: Retriever,
    index: str,
    names: dict[int, str],
) -> None:
    import numpy as np

    from siamreid.viz import plot_ranked_matches

    if result.paths is None:
        raise ConfigError(f"Index {index!r} stores no image paths, so --plot has no images.")
    count = len(paths)
    drawn = result.paths[:count]
    withheld = [[None if retriever.may_open(p) else _OUTSIDE for p in row] for row in drawn]
    for row, notes in zip(drawn, withheld, strict=True):
        for path, note in zip(row, notes, strict=True):
            if note is None:
                _check_regular(path, index)
    known = np.asarray([-1 if i is None else i for i in ids], dtype=np.int64)
    plot_ranked_matches(
        paths,
        drawn,
        result.ids[:count].numpy() == known[:, None],
        target,
        distances=result.distances[:count].numpy(),
        withheld=withheld,
        query_labels=["no id" if i is None else f"id {names.get(i, i)}" for i in ids],
        labelled=[i is not None for i in ids],
    )
    closed = sum(note is not None for notes in withheld for note in notes)
    if closed:
        print(
            f"note: {closed} drawn match(es) are stored outside the index folder {index!r} and "
            "were not opened (placeholders); pass --allow-outside-paths to draw them."
        )
    print(f"wrote {target}")


def _check_regular(path: str, index: str) -> None:
    """--plot opens gallery images only when they are regular files (not devices, fifos...)."""
    try:
        regular = path != "" and stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = False
    if path and not regular:
        raise ConfigError(
            f"--plot: gallery image {printable(path)!r} of index {index!r} is not a readable "
            "regular file (moved or deleted?); keep the images beside the index or search "
            "without --plot."
        )
