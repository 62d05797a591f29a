"""Lazy package exports: ``import siamreid`` loads no torch, and the lazy lists match the typed
imports that mypy and the docs read."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys

import pytest

LAZY_PACKAGES = ("siamreid", "siamreid.data")
HEAVY = ("torch", "timm", "torchvision")


def _type_checking_imports(package: str) -> dict[str, tuple[str, ...]]:
    """``{module: names}`` of the ``from ... import ...`` lines under ``if TYPE_CHECKING:``."""
    tree = ast.parse(inspect.getsource(importlib.import_module(package)))
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module
                found[stmt.module] = tuple(a.name for a in stmt.names)
    return found


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_the_lazy_names_are_the_typed_imports(package: str) -> None:
    module = importlib.import_module(package)
    lazy_map = module._LAZY
    assert lazy_map == _type_checking_imports(package)
    lazy = {name for names in lazy_map.values() for name in names}
    assert lazy <= set(module.__all__)
    assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_is_the_object_of_its_module(package: str) -> None:
    module = importlib.import_module(package)
    for source, names in module._LAZY.items():
        for name in names:
            assert getattr(module, name) is getattr(importlib.import_module(source), name)
    with pytest.raises(AttributeError, match=rf"module '{package}' has no attribute 'Nope'"):
        _ = module.Nope


def test_subpackages_stay_reachable_from_a_bare_import() -> None:
    code = "import siamreid\nprint(siamreid.models.serialization.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "siamreid.models.serialization"


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


def test_importing_the_package_and_naming_datasets_loads_no_torch() -> None:
    assert (
        _loaded_after(
            "import siamreid\nfrom siamreid import ConfigError, __version__\n"
            "from siamreid.data import DataConfig, Market1501\n"
            "DataConfig(dataset='synthetic', root='x')"
        )
        == []
    )
    assert "torch" in _loaded_after("from siamreid import Trainer")
