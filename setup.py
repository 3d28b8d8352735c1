"""Build script.  The package's metadata is in pyproject.toml; this part compiles the
exploration engine's hot modules with mypyc (``src/vmacheck/_engine.py`` lists them, and says
how the package runs their Python source instead when they are missing or out of date).

``VMACHECK_PURE_PYTHON=1 pip install .`` builds without compiling.  A module that fails to
compile (no C compiler) leaves the package pure Python, with a warning from the build.
"""

from __future__ import annotations

import ast
import json
import os
import zlib
from pathlib import Path
from typing import Any

from setuptools import setup

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "src" / "vmacheck"


def compiled_modules() -> tuple[str, ...]:
    """``COMPILED_MODULES`` as written in ``_engine.py`` (read, not imported: the package
    is not importable while it is being built)."""
    tree = ast.parse((PACKAGE / "_engine.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.target.id == "COMPILED_MODULES" and node.value is not None):
            value: tuple[str, ...] = ast.literal_eval(node.value)
            return value
    raise SystemExit("setup.py: COMPILED_MODULES not found in src/vmacheck/_engine.py")


def ext_modules() -> list[Any]:
    if os.environ.get("VMACHECK_PURE_PYTHON", "") not in ("", "0"):
        return []
    from mypyc.build import mypycify

    modules = compiled_modules()
    paths = [PACKAGE.joinpath(*m.split(".")[1:]).with_suffix(".py") for m in modules]
    # an in-place build leaves the extensions of modules no longer compiled: remove them
    for ext_file in PACKAGE.rglob("*.so"):
        if ext_file.with_name(ext_file.name.split(".")[0] + ".py") not in paths:
            ext_file.unlink()
    # what the runtime compares with the source next to the compiled modules
    # as vmacheck._engine.source_hash computes it
    hashes = {m: f"{zlib.crc32(p.read_bytes()):08x}" for m, p in zip(modules, paths, strict=True)}
    (PACKAGE / "_engine_sources.json").write_text(json.dumps(hashes, indent=1) + "\n")
    # compiled by their path relative to the checkout: the file name their functions carry in
    # tracebacks, which the engine recognises as its own (ENGINE_FILES in explore/state.py)
    extensions = mypycify([str(p.relative_to(ROOT)) for p in paths], opt_level="3",
                          group_name="vmacheck_engine")
    for ext in extensions:
        ext.optional = True  # a failed compile leaves the Python source
    return list(extensions)


setup(ext_modules=ext_modules())
