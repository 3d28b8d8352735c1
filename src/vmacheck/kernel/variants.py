"""Versions of model functions, and the kernel configuration a run uses.

Any model function can exist in several versions: the kernel's, each patch version's, a
user's.  A function decorated with :func:`kfunc` becomes a dispatcher; versions are added with
``@fn.variant("name")`` (or :func:`variant` by function name, from a user's own file), and a
:class:`Selection` chooses which version runs.  Identifiers are ``function@version``.

    @kfunc("mainline")
    async def binder_alloc_free_page(...): ...

    @binder_alloc_free_page.variant("hansen-v2")
    async def _(...): ...

The selection is global for the duration of an exploration (executions run one at a time):
use ``with select(Selection(...)):`` around :func:`vmacheck.explore`.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class VariantError(ValueError):
    """An unknown function or version, or a malformed ``function@version`` string."""


@dataclass
class KFunc:
    """A versioned model function: a dispatcher over its registered versions."""

    name: str
    default: str
    versions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        version = _ACTIVE.variants.get(self.name, self.default)
        return self.versions[version](*args, **kwargs)

    def variant(self, version: str, doc: str | None = None) -> Callable[[F], F]:
        """Register another version of this function."""

        def register(fn: F) -> F:
            self.versions[version] = fn
            self.docs[version] = summary(doc or fn.__doc__)
            return fn

        return register

    def active(self) -> str:
        return _ACTIVE.variants.get(self.name, self.default)


REGISTRY: dict[str, KFunc] = {}


def summary(doc: str | None, limit: int = 110) -> str:
    """The first sentence of a docstring's first paragraph, on one line."""
    if not doc:
        return ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    end = para.find(". ")
    text = para if end < 0 else para[: end + 1]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def kfunc(default: str = "mainline") -> Callable[[Callable[..., Any]], KFunc]:
    """Make a model function versioned; the decorated body is version ``default``."""

    def wrap(fn: Callable[..., Any]) -> KFunc:
        k = REGISTRY.get(fn.__name__)
        if k is None:
            k = KFunc(fn.__name__, default)
            REGISTRY[fn.__name__] = k
        k.default = default
        k.versions[default] = fn
        k.docs[default] = summary(fn.__doc__)
        functools.update_wrapper(k, fn)
        return k

    return wrap


def variant(function: str, version: str, doc: str | None = None) -> Callable[[F], F]:
    """Register a version of the model function named ``function`` (for user variant files)."""
    k = REGISTRY.get(function)
    if k is None:  # the models register their functions when imported
        from vmacheck.scenarios.catalogue import load_all

        load_all()
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
    _ACTIVE = selection
    try:
        yield selection
    finally:
        _ACTIVE = previous


def check(function: str, version: str) -> None:
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


def load_variant_file(path: str | Path) -> list[str]:
    """Import a user's variant file; returns the ``function@version`` ids it registered."""
    p = Path(path)
    if not p.is_file():
        raise VariantError(f"variant file {str(p)!r} does not exist")
    from vmacheck.kernel.variant_lint import lint_variant_file
    from vmacheck.scenarios.catalogue import load_all

    lint_variant_file(p)  # not async, asyncio, time.sleep, file I/O, sys.exit: user errors

    load_all()
    before = {(n, v) for n, k in REGISTRY.items() for v in k.versions}
    name = f"vmacheck_user_variants_{abs(hash(str(p.resolve())))}"
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
    return sorted(f"{n}@{v}" for n, v in after - before)


def _unknown(what: str, name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint}"
