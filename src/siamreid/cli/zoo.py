"""``siamreid zoo``: the trained models siamreid loads by name (``zoo:NAME``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``zoo`` sub-command with ``list`` and ``fetch``."""
    parser = subparsers.add_parser(
        "zoo",
        help="list or download the published trained models (zoo:NAME)",
        description="The trained re-id models torchreid and BoxMOT publish, by name: every "
        "--checkpoint option and `siamreid convert` take zoo:NAME. A model is downloaded once "
        "into the torch hub cache; offline, a file saved at the printed path is used.",
    )
    actions = parser.add_subparsers(dest="zoo_action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="print the table of models")
    listing.set_defaults(run=run_list)
    fetch = actions.add_parser("fetch", help="download a model into the cache (once)")
    fetch.add_argument("name", help="a zoo name, e.g. osnet_x0_25_msmt17")
    fetch.set_defaults(run=run_fetch)


def run_list(args: argparse.Namespace) -> int:
    """One row per model: name, architecture, training set, input, licence, sha256, cache, URL."""
    from siamreid.models.zoo import zoo_entries, zoo_path

    del args
    rows = [("name", "arch", "trained on", "input", "licence", "sha256", "cached", "source")]
    for e in zoo_entries():
        size = f"{e.input_size[0]}x{e.input_size[1]}"
        sha = e.sha256[:12] if e.sha256 else "unpublished"
        cached = "yes" if zoo_path(e).is_file() else "no"
        rows.append((e.name, e.arch, e.dataset, size, e.licence, sha, cached, e.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    sources = sorted({e.source for e in zoo_entries()})
    print(f"\nFrom: {'; '.join(sources)}. Cached in {zoo_path(zoo_entries()[0]).parent}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Download (once) and print the cached file's path."""
    from siamreid.models.zoo import zoo_entry, zoo_file

    entry = zoo_entry(args.name)
    print(f"zoo:{entry.name}: {entry.url} ({entry.source})")
    print(zoo_file(entry))
    return 0
