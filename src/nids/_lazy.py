"""Lazy package exports: a package's ``__init__`` names what it re-exports from which
module, and the module is imported on first attribute access, so importing a package
does no work (the "nothing at import time" rule)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` resolving ``exports`` (name -> module) on demand.

    Use as ``__getattr__ = lazy_exports(__name__, _EXPORTS)``, with the same names
    imported under ``TYPE_CHECKING`` for type checkers and listed in ``__all__``.
    """

    def resolve(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return resolve
