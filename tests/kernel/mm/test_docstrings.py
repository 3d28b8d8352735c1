"""Every model function names the kernel file and function it models."""

from __future__ import annotations

import importlib
import inspect
import re

from vmacheck.kernel.variants import REGISTRY, KFunc

MODULES = [
    "vmacheck.kernel.rcu",
    "vmacheck.kernel.include.linux.mm",
    "vmacheck.kernel.include.linux.mm_types",
    "vmacheck.kernel.include.linux.mmap_lock",
    "vmacheck.kernel.include.linux.sched_mm",
    "vmacheck.kernel.mm.mmap_lock",
    "vmacheck.kernel.mm.vma",
    "vmacheck.kernel.mm.memory",
    "vmacheck.kernel.mm.mmap",
    "vmacheck.kernel.mm.mprotect",
    "vmacheck.kernel.mm.fork",
    "vmacheck.kernel.mm.fault",
    "vmacheck.kernel.mm.gup",
]
KERNEL_PATH = re.compile(r"\b(?:[a-z0-9_]+/)+[a-z0-9_]+\.[ch]\b")
NOT_KERNEL = ("Model set-up", "Model helper", "Model check")


def _model_functions() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            fn = obj.versions[obj.default] if isinstance(obj, KFunc) else obj
            if not (inspect.iscoroutinefunction(fn) or inspect.isfunction(fn)):
                continue
            if getattr(fn, "__module__", None) != name or (attr.startswith("_") and not
                    attr.startswith("__")):
                continue
            out.append((f"{name}.{attr}", fn))
    for k in REGISTRY.values():
        for version, fn in k.versions.items():
            if fn.__module__.startswith("vmacheck.kernel.mm"):
                out.append((f"{k.name}@{version}", fn))
    return out


def test_every_model_function_docstring_names_its_kernel_source() -> None:
    missing = []
    functions = _model_functions()
    assert len(functions) > 60
    for qualname, fn in functions:
        doc = inspect.getdoc(fn) or ""
        if doc.startswith(NOT_KERNEL):
            continue
        if not KERNEL_PATH.search(doc):
            missing.append(qualname)
    assert not missing, f"docstrings without a kernel file: {missing}"
