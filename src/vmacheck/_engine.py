"""The exploration engine's hot modules: compiled with mypyc, or their Python source.

``pip install`` compiles the modules in :data:`COMPILED_MODULES` with mypyc (``setup.py``;
the same source, typed and checked by mypy, turned into C): a kernel scenario's step costs
about a third less time.  Next to them it records a checksum of each module's source
(:data:`SOURCES_FILE`).  The package imports this module before any other, and importing it
decides, once per process, which of the two runs:

- the compiled modules, when every one of them is there and was built from the source next to
  it;
- the Python source of all of them (never a mix: a compiled class cannot derive from an
  interpreted one) when ``VMACHECK_PURE_PYTHON`` is set (to anything but ``0``), when they
  were not compiled (``VMACHECK_PURE_PYTHON=1 pip install``, no C compiler), or when a source
  file changed since they were (an edited checkout): then one line on stderr says so and how
  to rebuild.

Both run the same code and find the same results; :func:`engine` says which one this process
runs (``vmacheck --version`` prints it, and the benchmarks do).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

COMPILED_MODULES: tuple[str, ...] = (
    "vmacheck.explore.state",
    "vmacheck.explore.ops",
    "vmacheck.explore.primitives",
    "vmacheck.explore.rwsem",
    "vmacheck.explore.context",
    "vmacheck.explore.locating",
    "vmacheck.explore.checking",
    "vmacheck.explore.ending",
    "vmacheck.explore.holding",
    "vmacheck.explore.replaying",
    "vmacheck.explore.core",
    "vmacheck.explore.happens_before",
    "vmacheck.explore.dpor",
    "vmacheck.explore.modes",
    "vmacheck.explore.runner",
)
"""The modules ``setup.py`` compiles (it reads this tuple from this file's text)."""

SOURCES_FILE = "_engine_sources.json"
"""Written by ``setup.py`` next to this module: ``{module: the CRC-32 of its source}`` as
compiled (a checksum, not hashlib: importing hashlib costs every process 3 MB)."""

PURE_ENV = "VMACHECK_PURE_PYTHON"

_PACKAGE_DIR = Path(__file__).resolve().parent
_choice: str | None = None


def source_path(module: str, package_dir: Path = _PACKAGE_DIR) -> Path:
    """The ``.py`` file of ``module`` (a name in :data:`COMPILED_MODULES`)."""
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def compiled_path(module: str, package_dir: Path = _PACKAGE_DIR) -> Path | None:
    """The compiled extension of ``module`` next to its source, if there is one."""
    src = source_path(module, package_dir)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = src.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def source_hash(path: Path) -> str:
    """What ``setup.py`` records of a module's source (the same function computes it there)."""
    return f"{zlib.crc32(path.read_bytes()):08x}"


def why_pure(modules: Sequence[str] = COMPILED_MODULES,
             package_dir: Path = _PACKAGE_DIR) -> str | None:
    """Why the Python source must run instead of the compiled modules (None: it need not).
    ``"not compiled"`` when none is there; otherwise a sentence naming a module that is
    missing or older than its source."""
    present = [m for m in modules if compiled_path(m, package_dir) is not None]
    if not present:
        return "not compiled"
    missing = [m for m in modules if m not in present]
    if missing:
        return f"{missing[0]} was not compiled"
    try:
        built = json.loads((package_dir / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return f"{SOURCES_FILE} is missing"
    for m in modules:
        if built.get(m) != source_hash(source_path(m, package_dir)):
            return f"{source_path(m, package_dir).name} changed since it was compiled"
    return None


def stray_modules(package_dir: Path = _PACKAGE_DIR) -> tuple[str, ...]:
    """Modules of the package with a compiled extension that are not in
    :data:`COMPILED_MODULES` (an in-place build of an older list left it; it would import a
    group library that no longer has it)."""
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    out = []
    for ext_file in package_dir.rglob("*.*"):
        suffix = next((s for s in suffixes if ext_file.name.endswith(s)), None)
        if suffix is None:
            continue
        parts = ext_file.relative_to(package_dir.parent).parts
        name = ".".join((*parts[:-1], ext_file.name[:-len(suffix)]))
        if name not in COMPILED_MODULES:
            out.append(name)
    return tuple(sorted(out))


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the ``.py`` source of the compiled modules, before the extension finder would
    find their compiled version."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path or ():
            candidate = os.path.join(entry, leaf)
            if os.path.exists(candidate):
                return importlib.util.spec_from_file_location(fullname, candidate)
        return None


def choose() -> str:
    """Decide, once per process and before any engine module is imported, which engine runs;
    returns :func:`engine`."""
    global _choice
    if _choice is not None:
        return _choice
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        reason: str | None = f"{PURE_ENV} is set"
        stale = False
    else:
        reason = why_pure()
        stale = reason is not None and reason != "not compiled"
    if reason is None:
        _choice = "compiled (mypyc)"
        strays = stray_modules()
        if strays:  # left by an in-place build of an older list: their source runs
            sys.meta_path.insert(0, _SourceFinder(strays))
        return _choice
    _choice = f"pure Python ({reason})"
    if stale and _main_process():  # workers need not say it again
        print(f"vmacheck: running the engine's Python source: {reason}; rebuild with "
              f"`pip install -e .` (or set {PURE_ENV}=1 to silence this)", file=sys.stderr)
    sys.meta_path.insert(0, _SourceFinder(COMPILED_MODULES))
    return _choice


def _main_process() -> bool:
    import multiprocessing  # only here: importing it costs every process 1 MB

    return multiprocessing.parent_process() is None


def engine() -> str:
    """Which engine this process runs: ``"compiled (mypyc)"`` or ``"pure Python (why)"``."""
    return choose()


choose()
