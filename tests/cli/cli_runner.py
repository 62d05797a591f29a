"""The type of the ``cli`` fixture: run ``siamreid`` in-process, get the code and the output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """Exit code and captured output of one command."""

    code: int
    out: str
    err: str


Runner = Callable[..., Result]
