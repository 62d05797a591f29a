"""The command line's one vocabulary, and the old spellings it still takes.

Every command names its input dataset with ``--dataset NAME --root DIR`` (the name is detected
from the folder when left out) and its output with ``--out PATH``. An option that had another
name keeps it as an alias: it still parses, is left out of ``--help``, and prints one
deprecation line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_renamed", "deprecated", "renamed_positional"]


def deprecated(old: str, new: str) -> None:
    """Print the one deprecation line of an old spelling on stderr."""
    print(
        f"siamreid: warning: {old} is deprecated and will be removed; use {new} instead.",
        file=sys.stderr,
    )


class _Renamed(argparse.Action):
    """Stores its value like ``store``; warns when reached through an old option string."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if option_string is not None and option_string not in self.option_strings:
            deprecated(option_string, self.option_strings[0])
        setattr(namespace, self.dest, values)


def add_renamed(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    new: str,
    *old: str,
    **kwargs: Any,
) -> argparse.Action:
    """Add option ``new`` that also answers to the ``old`` spellings (with a deprecation line).

    Args:
        parser: The parser (or argument group) to add to.
        new: The option's name, e.g. ``"--out"``.
        *old: Former names, e.g. ``"--onnx"``.
        **kwargs: ``add_argument``'s other arguments (``dest`` defaults to ``new``'s).
    """
    kwargs.setdefault("dest", new.lstrip("-").replace("-", "_"))
    action = parser.add_argument(new, *old, action=_Renamed, **kwargs)
    # the parser already maps every spelling to this action; --help and errors show the new one
    action.option_strings = [new]
    return action


def renamed_positional(new: str) -> type[argparse.Action]:
    """A store action for a positional argument that options replaced: given, it warns once.

    Args:
        new: The spelling to use instead, e.g. ``"data check --dataset NAME --root DIR"``.

    Add the positional with ``nargs="?"`` and ``help=argparse.SUPPRESS``, so that usage shows
    only the options.
    """

    class _Positional(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: str | Sequence[Any] | None,
            option_string: str | None = None,
        ) -> None:
            if values is not None and values != self.default:
                deprecated(f"the positional form {self.metavar or self.dest}", new)
            setattr(namespace, self.dest, values)

    return _Positional
