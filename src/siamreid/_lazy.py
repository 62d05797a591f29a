"""Lazy re-exports for a package ``__init__`` (PEP 562): a name's module loads on first use.

``import siamreid`` (which every ``siamreid`` command does, to reach ``siamreid.cli``) must not
load torch, timm or torchvision: ``siamreid --help`` answers at once, and the commands import
what they use. A package declares its public names as usual, once in ``__all__``; type checkers
read the real imports under ``if TYPE_CHECKING:``, and at run time the package hands its
``__getattr__`` / ``__dir__`` to this module. ``tests/test_lazy.py`` checks that both lists
agree.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for names imported on first use.

    Args:
        package: The package's ``__name__``.
        exports: Module name -> the names ``package`` re-exports from it.

    Returns:
        ``(__getattr__, __dir__)``: assign both at the package's top level. A name, once
        imported, is set on the package, so later look-ups are plain attribute reads. A
        subpackage or module of ``package`` is imported on first use too (``siamreid.models``
        after a bare ``import siamreid``), as the eager ``__init__`` used to provide.

    Example:
        >>> __getattr__, __dir__ = lazy_exports(__name__, {"siamreid.data": ("Market1501",)})
        ... # doctest: +SKIP
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook PEP 562 names)
        module = module_of.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")  # `siamreid.models.x`, as before
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__
