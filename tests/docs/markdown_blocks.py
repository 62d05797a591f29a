"""The fenced code blocks of the documentation's Markdown pages, for the tests that run them."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    """One fenced code block.

    Attributes:
        page: Path of the page relative to ``docs/``.
        line: 1-based line of the block's first code line in the page.
        language: The fence's language tag (``""`` when none).
        code: The code, dedented.
    """

    page: str
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        """``page:line``, for test ids and messages."""
        return f"{self.page}:{self.line}"


def pages() -> list[str]:
    """Every Markdown page under ``docs/``, relative to it, sorted."""
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def blocks(page: str, language: str | None = None) -> list[Block]:
    """The code blocks of ``page`` (relative to ``docs/``), optionally of one language."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        if language is not None and match["lang"] != language:
            continue
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(page, line, match["lang"], textwrap.dedent(match["body"])))
    return found


def run_python_blocks(page: str) -> dict[str, Any]:
    """Run the Python blocks of ``page`` in order, in one namespace, and return it.

    Each block is compiled under the page's path with its real line numbers, so a failure's
    traceback points into the Markdown file.
    """
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in blocks(page, "python"):
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(DOCS / page), "exec"), namespace)
    return namespace
