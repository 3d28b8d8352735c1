"""Versions of model functions, and the kernel configuration a run uses.

**Every model function is replaceable.**  A function defined at module level anywhere under
:mod:`vmacheck.kernel` whose docstring opens with a citation of the kernel function it follows
(````name```` then the kernel file, e.g. ``"``vma_start_write`` (include/linux/mmap_lock.h):
..."``) is registered as a :class:`KFunc` *while its module is imported*: the module-level
name is bound to a dispatcher from the moment the ``def`` statement runs, so every later use
goes through it - calls inside the module, ``from x import f`` in other modules (even during
circular imports), and function pointers stored in structures built at import time
(``VmOperationsStruct(close=binder_vma_close)``).  Nothing is opt-in: the import hook of
:mod:`vmacheck.kernel.replaceable`, installed by ``vmacheck/kernel/__init__.py``, executes
every ``vmacheck.kernel.*`` module with a namespace that wraps such functions as they are
bound.  Functions whose docstring starts with "Model" (set-up, helpers, checks, glue),
private ``_helpers`` (fragments of the function that calls them) and version bodies are left
alone.  ``tests/kernel/test_replaceable.py`` checks that every public function under
``kernel/`` is one or the other, and that each replaceable one names its kernel file.

A registered function's body is version ``mainline``; more versions are added with
``@fn.variant("name")`` or, from a user's file, :func:`variant` by function name.  An explicit
``@kfunc("default")`` still works (it names the default version).  A :class:`Selection`
chooses which version of each function runs; identifiers are ``function@version``::

    @kfunc("mainline")
    async def binder_alloc_free_page(...): ...

    @binder_alloc_free_page.variant("hansen-v2")
    async def _(...): ...

    @variant("vm_area_free", "leak")          # a user's variant file
    async def vm_area_free_leak(vma): ...

The selection is global for the duration of an exploration (executions run one at a time):
use ``with select(Selection(...)):`` around :func:`vmacheck.explore`.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

VERSION_OF = "__vmacheck_version_of__"
"""Attribute set on a version body (so the import hook does not register it by itself)."""


class VariantError(ValueError):
    """An unknown function or version, or a malformed ``function@version`` string."""


_CITED_NAME = re.compile(r"\s*``(?P<name>[^`]+)``")
KERNEL_FILE = re.compile(
    r"\b(?:arch|block|drivers|fs|include|init|ipc|kernel|lib|mm|net|security|tools)/"
    r"[\w./-]*\w\.[ch]\b")
"""A path in the kernel source tree (``mm/mmap_lock.c``, ``include/linux/mm.h``)."""


def citation(doc: str | None) -> tuple[str, str]:
    """The kernel function and file a model function's docstring cites: the function is the
    leading ````name```` (an argument list is dropped unless it names a syscall), the file the
    first kernel path of the first paragraph.  Either is "" when absent."""
    if not doc:
        return "", ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = _CITED_NAME.match(para)
    name = ""
    if m:
        name = m.group("name")
        if "(" in name and not name.startswith("SYSCALL_DEFINE"):
            name = name.split("(")[0]
    f = KERNEL_FILE.search(para)
    return name, f.group(0) if f else ""


def follows_kernel_function(name: str, doc: str | None) -> bool:
    """Whether a module-level function named ``name`` with this docstring follows a kernel
    function: a public name (the kernel's own ``__x`` names count) and a docstring that opens
    with a ````kernel_name```` citation."""
    if name.startswith("_") and not name.startswith("__"):
        return False
    return bool(doc and _CITED_NAME.match(doc))


@dataclass
class KFunc:
    """A replaceable model function: a dispatcher over its registered versions.

    ``follows``/``source`` are the kernel function and file it models (from the docstring
    citation), ``module`` the model module that defines it."""

    name: str
    default: str
    versions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
    follows: str = ""
    source: str = ""
    module: str = ""

    def __post_init__(self) -> None:
        # a class of its own, whose __call__ can be bound to the version in force
        self.__class__ = type("KFunc", (KFunc,), {"__module__": __name__})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The first call since the selection changed (or :data:`CALLED` was cleared): note it
        in CALLED and bind the version in force as this function's class's ``__call__``, so
        that the calls after it go straight to the version (no dispatching frame: a model
        function is called about once per step).  :func:`_unbind` undoes it."""
        CALLED.add(self.name)
        fn = self.versions[_ACTIVE.variants.get(self.name, self.default)]
        cls = type(self)
        if cls is not KFunc:
            cls.__call__ = staticmethod(fn)  # type: ignore[method-assign]
            _BOUND.append(cls)
        return fn(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_registered, (self.name,))

    def variant(self, version: str, doc: str | None = None) -> Callable[[F], F]:
        """Register another version of this function."""

        def register(fn: F) -> F:
            _unbind()
            self.versions[version] = fn
            self.docs[version] = summary(doc or fn.__doc__)
            with contextlib.suppress(AttributeError):  # an object without a __dict__
                setattr(fn, VERSION_OF, self.name)
            return fn

        return register

    def active(self) -> str:
        return _ACTIVE.variants.get(self.name, self.default)


REGISTRY: dict[str, KFunc] = {}

_BOUND: list[type[KFunc]] = []
"""The classes of the model functions bound to a version since the last :func:`_unbind`."""


def _unbind() -> None:
    """Make every model function dispatch (and note its call in :data:`CALLED`) again: the
    selection, a function's versions or CALLED changed."""
    for cls in _BOUND:
        del cls.__call__
    _BOUND.clear()


def _registered(name: str) -> KFunc:
    """The model function registered as ``name`` (how a pickled one is restored)."""
    if name not in REGISTRY:
        load_kernel()
    return REGISTRY[name]


class _Called(set[str]):
    """A set of function names whose :meth:`clear` also makes every model function note its
    next call again."""

    def clear(self) -> None:
        super().clear()
        _unbind()


CALLED: set[str] = _Called()
"""Names of the versioned functions called since it was last cleared: a run whose selection
differs from another's only in functions neither called behaves identically.  (Clear it with
``clear()``: a model function notes only its first call after that.)"""


def summary(doc: str | None, limit: int = 110) -> str:
    """The first sentence of a docstring's first paragraph, on one line."""
    if not doc:
        return ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    end = para.find(". ")
    text = para if end < 0 else para[: end + 1]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def register_function(fn: Callable[..., Any], default: str = "mainline") -> KFunc:
    """Make ``fn`` a replaceable model function (its body is version ``default``); used by
    :func:`kfunc` and by the import hook.  Re-registering from the same module (a re-import)
    replaces the body; the same name from two modules is an error.  A module that models an
    older kernel beside the current one sets ``MODEL_NAMESPACE`` (e.g. ``"v6.5"``): its
    functions are registered as ``v6.5:name``, apart from the current kernel's ``name``."""
    module = getattr(fn, "__module__", "") or ""
    namespace = getattr(sys.modules.get(module), "MODEL_NAMESPACE", "")
    name = f"{namespace}:{fn.__name__}" if namespace else fn.__name__
    k = REGISTRY.get(name)
    if k is None:
        k = KFunc(name, default)
        REGISTRY[name] = k
    elif k.module and module and k.module != module:
        raise VariantError(f"model function {name!r} is defined twice: in {k.module} and "
                           f"{module} (rename one, or make one a version of the other)")
    _unbind()
    k.default = default
    k.versions[default] = fn
    k.docs[default] = summary(fn.__doc__)
    k.follows, k.source = citation(fn.__doc__)
    k.module = module
    functools.update_wrapper(k, fn)
    return k


def kfunc(default: str = "mainline") -> Callable[[Callable[..., Any]], KFunc]:
    """Name the default version of a model function explicitly (every model function is
    replaceable without this; the decorated body is version ``default``)."""

    def wrap(fn: Callable[..., Any]) -> KFunc:
        return register_function(fn, default)

    return wrap


def load_kernel() -> None:
    """Import every module of the kernel model, so that all model functions are registered."""
    import vmacheck.kernel as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="vmacheck.kernel."):
        importlib.import_module(info.name)


def variant(function: str, version: str, doc: str | None = None) -> Callable[[F], F]:
    """Register a version of the model function named ``function`` (for user variant files)."""
    k = REGISTRY.get(function)
    if k is None:  # the models register their functions when imported
        load_kernel()
        k = REGISTRY.get(function)
    if k is None:
        raise VariantError(_unknown("function", function, REGISTRY))
    return k.variant(version, doc)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which version of each function runs, and the kernel configuration switches."""

    variants: dict[str, str] = field(default_factory=dict)
    config: dict[str, bool] = field(default_factory=dict)

    def label(self) -> str:
        return ", ".join(f"{k}@{v}" for k, v in sorted(self.variants.items())) or "defaults"


_ACTIVE = Selection()


def active() -> Selection:
    """The selection the running exploration uses."""
    return _ACTIVE


def config(name: str, default: bool = False) -> bool:
    """A kernel configuration switch of the active selection (e.g. ``PER_VMA_LOCK``)."""
    return _ACTIVE.config.get(name, default)


@contextmanager
def select(selection: Selection) -> Iterator[Selection]:
    """Run the enclosed explorations with ``selection``."""
    global _ACTIVE
    for fn, version in selection.variants.items():
        check(fn, version)
    previous = _ACTIVE
    activate(selection)
    try:
        yield selection
    finally:
        activate(previous)


def activate(selection: Selection) -> None:
    """Make ``selection`` the active one from now on (as :func:`select` does for a block; for
    a process that runs one selection's work units)."""
    global _ACTIVE
    if selection is not _ACTIVE:
        _ACTIVE = selection
        _unbind()


def check(function: str, version: str) -> None:
    """Raise :class:`VariantError` unless ``function@version`` is registered."""
    k = REGISTRY.get(function)
    if k is None:
        load_kernel()
        k = REGISTRY.get(function)
    if k is None:
        raise VariantError(_unknown("function", function, REGISTRY))
    if version not in k.versions:
        raise VariantError(_unknown(f"version of {function}", version, k.versions))


def parse_variant(text: str) -> tuple[str, str]:
    """Parse ``function@version``; raises :class:`VariantError` naming close valid names."""
    fn, at, version = text.partition("@")
    if not at or not fn or not version:
        raise VariantError(f"variant {text!r} must have the form function@version")
    check(fn, version)
    return fn, version


_LOADED_FILES: dict[tuple[str, int], list[str]] = {}


def load_variant_file(path: str | Path) -> list[str]:
    """Import a user's variant file; returns the ``function@version`` ids it registered.

    The file may also register scenarios (``vmacheck.scenarios.catalogue.register``).  A file
    already loaded (same path, unchanged) is not executed again."""
    p = Path(path)
    if not p.is_file():
        raise VariantError(f"variant file {str(p)!r} does not exist")
    from vmacheck.variant_lint import lint_variant_file

    lint_variant_file(p)  # not async, asyncio, time.sleep, file I/O, sys.exit: user errors
    key = (str(p.resolve()), p.stat().st_mtime_ns)
    if key in _LOADED_FILES:
        return list(_LOADED_FILES[key])
    load_kernel()
    before = {(n, v) for n, k in REGISTRY.items() for v in k.versions}
    name = f"vmacheck_user_variants_{abs(hash(key))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise VariantError(f"variant file {str(p)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except VariantError:
        raise
    except SyntaxError as err:
        raise VariantError(f"{p}:{err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:
        raise VariantError(f"{p}: error while loading: {type(err).__name__}: {err}") from None
    after = {(n, v) for n, k in REGISTRY.items() for v in k.versions}
    ids = sorted(f"{n}@{v}" for n, v in after - before)
    _LOADED_FILES[key] = ids
    return list(ids)


def _unknown(what: str, name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint}"
