"""Shared objects made on first use, with object ids reserved when the model is built.

A model builds every object it could ever use before the threads start, so that an object's
id does not depend on the schedule (the explorer compares steps of different executions by
the ids they touch).  Most of them are never touched in a given execution (the spare objects
of a slab, pages nobody allocates), and building them is most of the cost of building a model.
A :class:`lazy_field` keeps the id and defers the object: its owner reserves ids when it is
built (:meth:`Execution.reserve <vmacheck.explore.core.Execution.reserve>`), and the field
makes its shared object, with its reserved id and its initial value, the first time it is
read.  Reading it later costs what reading a plain attribute costs.

An execution that records a trace (a replay for a report) makes every field at once
(:func:`make_fields`), so that an allocation's "Allocated by" is where its owner was built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from vmacheck.explore.ops import Allocation, Shared, current

S = TypeVar("S", bound=Shared)

OID_BASE = "_oid_base"
"""The attribute of an owner that holds the first of its reserved ids."""


class lazy_field(Generic[S]):
    """A field of a model class holding the shared object ``make(owner, oid)``, made when the
    field is first read, with id ``owner._oid_base + index``.  The owner reserves its ids in
    its ``__init__`` with ``self._oid_base = current().reserve(n)`` (``n``: one more than the
    largest ``index``); the objects must not depend on anything that changes while threads
    run (they are what eager construction at build time would have made)."""

    __slots__ = ("index", "make", "name")

    def __init__(self, index: int, make: Callable[[Any, int], S]) -> None:
        self.index = index
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> lazy_field[S]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> S: ...

    def __get__(self, obj: object | None, owner: type) -> S | lazy_field[S]:
        if obj is None:
            return self
        value = self.make(obj, getattr(obj, OID_BASE) + self.index)
        # the instance attribute hides this (non-data) descriptor from now on
        obj.__dict__[self.name] = value
        return value

    def id_of(self, obj: object) -> int:
        """The id of ``obj``'s object of this field, made or not (for ``invariant(reads=)``,
        which takes ids of objects not made yet)."""
        base: int = getattr(obj, OID_BASE)
        return base + self.index

    def made(self, obj: object) -> S | None:
        """``obj``'s object of this field if it was made already, else None (without making
        it): a field nobody read holds its initial value, so a check that scans many owners
        (every page of the pool) can pass over those without building their objects."""
        value: S | None = obj.__dict__.get(self.name)
        return value


def make_fields(obj: object) -> None:
    """Make every lazy field of ``obj`` now, in id order, when the running execution records a
    trace: its allocations then say they were allocated where ``obj`` was built (the caller's
    frames), as if built eagerly."""
    ex = current()
    if not ex.record:
        return
    fields = sorted((f for klass in reversed(type(obj).__mro__)
                     for f in vars(klass).values() if isinstance(f, lazy_field)),
                    key=lambda f: f.index)
    site = ex.site()
    for f in fields:
        value = getattr(obj, f.name)
        if isinstance(value, Allocation):
            value.allocated_by = site
