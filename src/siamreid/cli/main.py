"""The ``siamreid`` command: one sub-command per module, errors as one clear line on stderr."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from siamreid._version import __version__
from siamreid.errors import SiamreidError

__all__ = ["build_parser", "main"]

# Each module defines register(subparsers) which adds its parser with set_defaults(run=...).
COMMANDS: tuple[str, ...] = (
    "synth",
    "demo",
    "train",
    "evaluate",
    "embed",
    "index",
    "search",
    "export",
    "data",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="siamreid",
        description="Person re-identification by deep metric learning.",
    )
    parser.add_argument("--version", action="version", version=f"siamreid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"siamreid.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("siamreid: interrupted.", file=sys.stderr)
        return 130
    except (SiamreidError, ValueError, OSError, ImportError) as err:
        if args.debug:
            traceback.print_exc()
        print(f"siamreid {args.command}: error: {err}", file=sys.stderr)
        return 2
