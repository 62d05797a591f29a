"""No import cycle anywhere in the package, not even between two modules of one subpackage.

Every ``import`` counts: at module level, under ``if TYPE_CHECKING:`` and inside functions (an
import moved into a function to dodge a cycle is still the cycle). ``from pkg import submodule``
is an edge to the submodule alone: importing a submodule needs its package initialised, which
Python does first, so a package importing its own modules is no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "siamreid"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The known modules ``source`` (the text of ``module``) imports, by any kind of import."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(_known_prefix(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else _known_prefix(base, known))
    found.discard("")
    found.discard(module)
    return found


def _known_prefix(name: str, known: set[str]) -> str:
    """The longest prefix of the dotted ``name`` that is a module of the package ('' if none)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module name -> the package's modules it imports, for every ``.py`` file below ``root``."""
    paths = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(paths)
    return {
        name: _imports(path.read_text("utf-8"), name, path.name == "__init__.py", known)
        for name, path in paths.items()
    }


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> Iterator[None]:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                yield from visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))
        yield None

    for node in sorted(graph):
        if node not in index:
            for _ in visit(node):
                pass
    return sorted(found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    "b_source",
    [
        "from pkg.a import x",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X",
        "def f():\n    from pkg.a import x",
        "import pkg.a",
        "from . import a",
        "from .a import x",
    ],
)
def test_the_check_sees_every_kind_of_import_that_closes_a_cycle(
    tmp_path: Path, b_source: str
) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "a.py": "from pkg.b import y", "b.py": b_source})
    assert cycles(import_graph(root)) == [["pkg.a", "pkg.b"]]


def test_a_package_importing_its_own_modules_is_no_cycle(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "from pkg.sub.a import A",
            "sub/__init__.py": "from pkg.sub.a import A\nfrom pkg.sub import b",
            "sub/a.py": "from pkg.sub import b\nfrom pkg.sub.b import B",
            "sub/b.py": "import pkg.other",
            "other.py": "",
        },
    )
    assert cycles(import_graph(root)) == []


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph(PACKAGE))
    assert not found, (
        f"import cycles: {found}; move what both modules need into a lower module that imports "
        "neither (a function-level or TYPE_CHECKING import hides a cycle, it does not remove it)"
    )
