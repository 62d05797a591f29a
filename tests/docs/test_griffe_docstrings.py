"""The docs build's griffe extension rewrites only what it means to (docs/_hooks)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def hooks(script_module: Callable[[str], ModuleType]) -> ModuleType:
    """``docs/_hooks/griffe_docstrings.py``, the extension the docs build loads."""
    return script_module("docs/_hooks/griffe_docstrings.py")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Do it.\n\nExample:\n    >>> f()\n", "Do it.\n\nExamples:\n    >>> f()\n"),
        ("Do it.\n\n    Example:  \n", "Do it.\n\n    Examples:\n"),
        ("Examples:\n    >>> f()", "Examples:\n    >>> f()"),
        ("See the Example: below.", "See the Example: below."),
        ("Returns :class:`~siamreid.data.ReidSplits`.", "Returns `ReidSplits`."),
        (":func:`evaluate_rank`, :py:meth:`Retriever.add`", "`evaluate_rank`, `Retriever.add`"),
        ("Plain `code` stays.", "Plain `code` stays."),
    ],
)
def test_rewrite(hooks: ModuleType, before: str, after: str) -> None:
    assert hooks.rewrite(before) == after
