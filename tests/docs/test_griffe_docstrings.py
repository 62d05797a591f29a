"""The docs build's griffe extension rewrites only what it means to (docs/_hooks)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from .markdown_blocks import DOCS


def _module() -> ModuleType:
    path = DOCS / "_hooks" / "griffe_docstrings.py"
    spec = importlib.util.spec_from_file_location("griffe_docstrings", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def test_rewrite(before: str, after: str) -> None:
    assert _module().rewrite(before) == after
