"""Dependencies point one way: the library never imports its entry points (runs/ and cli/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "siamreid"
TOP_LAYERS = ("siamreid.runs", "siamreid.cli")
# the layers that sit on top, and the entry module that runs the CLI
ON_TOP = {PACKAGE / "runs", PACKAGE / "cli", PACKAGE / "__main__.py"}


def _imported_modules(source: str, package: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in ``source`` names; relative imports
    are resolved from ``package``, the package the source belongs to."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _reaches_top(imported: set[str]) -> set[str]:
    return {
        name for name in imported if any(name == t or name.startswith(f"{t}.") for t in TOP_LAYERS)
    }


def _library_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if not any(path == top or top in path.parents for top in ON_TOP)
    )


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    return _module_name(path.parent / "__init__.py")


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("from siamreid.runs.pipeline import run_recipe", "siamreid.training"),
        ("import siamreid.cli.main", "siamreid.data"),
        ("from siamreid import runs", "siamreid"),
        ("from ..runs import demo", "siamreid.models"),
        ("from . import cli", "siamreid"),
        ("def f():\n    from siamreid.cli._common import load_model", "siamreid"),
    ],
)
def test_the_check_sees_every_way_of_importing_a_top_layer(source: str, package: str) -> None:
    assert _reaches_top(_imported_modules(source, package))


def test_the_check_lets_the_library_import_itself() -> None:
    source = "from siamreid.training import Trainer\nfrom .runner import x\nimport siamreid.data"
    assert not _reaches_top(_imported_modules(source, "siamreid.evaluation"))


def test_the_check_reads_every_library_subpackage() -> None:
    names = {_module_name(path) for path in _library_modules()}
    for package in ("data", "models", "evaluation", "retrieval", "training"):
        assert f"siamreid.{package}.__init__" not in names  # an __init__ is named as its package
        assert f"siamreid.{package}" in names
    assert not any(name.startswith(TOP_LAYERS) for name in names)


def test_no_library_module_imports_runs_or_cli() -> None:
    offenders = {
        _module_name(path): sorted(found)
        for path in _library_modules()
        if (found := _reaches_top(_imported_modules(path.read_text("utf-8"), _package_of(path))))
    }
    assert not offenders, (
        f"library modules import the layers on top: {offenders}; move what they need into the "
        "library (runs/ and cli/ may import everything, nothing may import them)"
    )
