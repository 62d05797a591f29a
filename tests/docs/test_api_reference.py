"""The API reference pages document every public name, and every name they document exists."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

import siamreid

from .markdown_blocks import DOCS

API_PAGES = sorted((DOCS / "api").glob("*.md"))
PUBLIC_MODULES = [
    "siamreid",
    "siamreid.data",
    "siamreid.models",
    "siamreid.losses",
    "siamreid.training",
    "siamreid.evaluation",
    "siamreid.retrieval",
    "siamreid.viz",
    "siamreid.errors",
    "siamreid.models.serialization",
    "siamreid.export",
    "siamreid.runs.pipeline",
    "siamreid.runs.demo",
    "siamreid.runs.report",
    "siamreid.runs.folder",
]
_DIRECTIVE = re.compile(r"^:::[ \t]+([\w.]+)[ \t]*$", re.MULTILINE)


def _directives() -> list[str]:
    return [t for page in API_PAGES for t in _DIRECTIVE.findall(page.read_text("utf-8"))]


def _resolve(target: str) -> Any:
    """The object a mkdocstrings identifier names: the longest importable module, then attrs."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(target)


@pytest.mark.parametrize("target", _directives())
def test_documented_name_exists(target: str) -> None:
    _resolve(target)


def _documented() -> tuple[set[int], set[str]]:
    """Ids of the documented objects, and the documented modules (whose members all count)."""
    objects, modules = set(), set()
    for target in _directives():
        obj = _resolve(target)
        objects.add(id(obj))
        if type(obj).__name__ == "module":
            modules.add(obj.__name__)
    return objects, modules


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    objects, modules = _documented()
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        in_module_page = getattr(obj, "__module__", None) in modules or module_name in modules
        constant = name.isupper()  # file names, format versions: not API reference material
        if name.startswith("__") or constant or id(obj) in objects or in_module_page:
            continue
        missing.append(name)
    assert not missing, (
        f"{module_name}.__all__ names missing from docs/api/*.md: {missing}; add a "
        f"'::: {module_name}.NAME' line to the page of their subpackage"
    )


def test_version_is_mentioned() -> None:
    assert "siamreid.__version__" in (DOCS / "api" / "index.md").read_text("utf-8")
    assert siamreid.__version__
