"""Griffe extension: two docstring habits of siamreid, rewritten before mkdocstrings parses them.

- ``Example:`` section titles. Griffe's Google parser knows only ``Examples:`` and renders the
  singular as an admonition whose ``>>>`` lines become nested Markdown block quotes.
- Sphinx roles (``:class:`~siamreid.data.ReidSplits```), which Markdown would show as literal
  ``:class:`` text. They become inline code, keeping only the last dotted part after ``~`` as
  Sphinx does.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|obj|exc|data|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def rewrite(text: str) -> str:
    """``text`` with ``Example:`` titles pluralised and Sphinx roles turned into inline code."""
    return _ROLE.sub(_code, _EXAMPLE.sub(r"\1Examples:", text))


class GoogleStyleFixes(griffe.Extension):
    """Apply :func:`rewrite` to every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
