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

__all__ = ["build_parser", "main", "one_line"]

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
    "convert",
    "zoo",
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
    _configure_logging(args)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("siamreid: interrupted.", file=sys.stderr)
        return 130
    except Exception as err:  # every failure is one line; the traceback only with --debug
        if args.debug:
            traceback.print_exc()
        print(f"siamreid {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, (SiamreidError, ValueError, OSError, ImportError)) else 1


def _configure_logging(args: argparse.Namespace) -> None:
    """Log to stderr at the level the flags ask for: -q warnings only, -v notes too, else the
    sub-command's default (``train`` prints its epoch lines; the others only warnings)."""
    if getattr(args, "quiet", False):
        level = logging.WARNING
    elif args.verbose:
        level = logging.INFO
    else:
        level = getattr(args, "log_level", logging.WARNING)
    handler = logging.StreamHandler()
    handler.setLevel(level)  # on the handler too: a run's log.txt may lower siamreid's level
    handler.setFormatter(_NotesFormatter())
    logging.basicConfig(level=level, handlers=[handler])


class _NotesFormatter(logging.Formatter):
    """Notes (INFO) as plain lines, like the lines commands print; the rest as LEVEL name: text."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.INFO:
            return record.getMessage()
        return f"{record.levelname} {record.name}: {super().format(record)}"


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line.

    An error raised in a DataLoader worker arrives with the worker's whole traceback in its
    message; its last line is the original error. Errors that are not siamreid's own are
    prefixed with their type (unless they are bad-input errors: ``ValueError``, ``OSError``) and
    point at ``--debug``.
    """
    text = str(err).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].strip()
        name, sep, rest = text.partition(": ")
        if sep and "." in name and " " not in name:
            text = rest if name.startswith("siamreid.") else f"{name.rsplit('.', 1)[-1]}: {rest}"
        return f"{text} (raised while loading data)"
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if isinstance(err, (SiamreidError, ValueError, OSError, ImportError)):
        return text
    kind = type(err).__name__
    return f"{kind}: {text or 'no message'} (run with --debug for the traceback)"
