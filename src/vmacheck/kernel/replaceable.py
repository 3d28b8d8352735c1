"""The import hook that makes every kernel-model function replaceable (see
:mod:`vmacheck.kernel.variants` for the rule).

``vmacheck/kernel/__init__.py`` installs :class:`KernelModelFinder` on ``sys.meta_path``.  For
each ``vmacheck.kernel.*`` module it lets the normal path finder locate the source, then
executes the module's code with :class:`_BindingNamespace` as its local namespace: every
module-level binding goes straight through to the module's dictionary, except that a function
defined by this module that follows a kernel function is first turned into its
:class:`~vmacheck.kernel.variants.KFunc` dispatcher.  Because the replacement happens when the
``def`` statement binds the name, no reference to the bare function ever escapes the module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

from vmacheck.kernel.variants import VERSION_OF, follows_kernel_function, register_function

PREFIX = "vmacheck.kernel."


def replaceable(module_name: str, name: str, value: Any) -> Any:
    """What binding ``name = value`` in ``module_name`` stores: the dispatcher for a function
    this module defines that follows a kernel function, else ``value`` itself."""
    if (isinstance(value, types.FunctionType) and value.__module__ == module_name
            and value.__qualname__ == name and not hasattr(value, VERSION_OF)
            and follows_kernel_function(name, value.__doc__)):
        return register_function(value)
    return value


class _BindingNamespace(dict[str, Any]):
    """The local namespace a kernel-model module runs in: reads and writes go to the module's
    own dictionary (the functions' globals), with :func:`replaceable` applied to writes."""

    def __init__(self, module: types.ModuleType) -> None:
        super().__init__()
        self.module_dict = module.__dict__
        self.module_name = module.__name__

    def __getitem__(self, key: str) -> Any:
        return self.module_dict[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.module_dict[key] = replaceable(self.module_name, key, value)

    def __delitem__(self, key: str) -> None:
        del self.module_dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self.module_dict

    def get(self, key: str, default: Any = None) -> Any:
        return self.module_dict.get(key, default)


class _KernelModelLoader(importlib.abc.Loader):
    """Wraps a source loader; runs the module with a :class:`_BindingNamespace`."""

    def __init__(self, inner: importlib.machinery.SourceFileLoader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        code = self.inner.get_code(module.__name__)
        if code is None:
            raise ImportError(f"no code for {module.__name__}")
        exec(code, module.__dict__, _BindingNamespace(module))

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, is_package, ...
        return getattr(self.inner, name)


class KernelModelFinder(importlib.abc.MetaPathFinder):
    """Finds ``vmacheck.kernel.*`` modules like the path finder, with the loader wrapped."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _KernelModelLoader(spec.loader)
        return spec


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, KernelModelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, KernelModelFinder())
