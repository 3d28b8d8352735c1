"""Which engine runs: the compiled modules only when all of them are there and built from the
source beside them, else the Python source of all of them (``vmacheck._engine``)."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vmacheck
from vmacheck import _engine

SRC = Path(vmacheck.__file__).resolve().parent.parent
PROBE = """
import sys, vmacheck
from vmacheck.explore import core
from vmacheck.scenarios import catalogue
r = catalogue.run("binder-install-munmap", minimise=False)
print(vmacheck.engine()); print(core.__file__); print(r.executions)
"""


def _probe(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != _engine.PURE_ENV}
    full.update(env, PYTHONPATH=str(path))
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=full, check=True)


def _fake_package(tmp: Path, modules: tuple[str, ...], compiled: tuple[str, ...]) -> Path:
    """A package dir with a source file per module and an empty 'extension' for ``compiled``."""
    pkg = tmp / "vmacheck"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for m in modules:
        src = _engine.source_path(m, pkg)
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {m}\n")
        if m in compiled:
            src.with_suffix(suffix).write_bytes(b"")
    return pkg


def test_no_compiled_module_means_not_compiled(tmp_path: Path) -> None:
    mods = ("vmacheck.explore.a", "vmacheck.explore.b")
    pkg = _fake_package(tmp_path, mods, ())
    assert _engine.why_pure(mods, pkg) == "not compiled"


def test_a_missing_compiled_module_or_hash_file_means_the_source(tmp_path: Path) -> None:
    mods = ("vmacheck.explore.a", "vmacheck.explore.b")
    pkg = _fake_package(tmp_path, mods, ("vmacheck.explore.a",))
    assert _engine.why_pure(mods, pkg) == "vmacheck.explore.b was not compiled"
    pkg = _fake_package(tmp_path, mods, mods)
    assert _engine.why_pure(mods, pkg) == f"{_engine.SOURCES_FILE} is missing"


def test_an_edited_source_means_the_source(tmp_path: Path) -> None:
    mods = ("vmacheck.explore.a", "vmacheck.explore.b")
    pkg = _fake_package(tmp_path, mods, mods)
    hashes = {m: _engine.source_hash(_engine.source_path(m, pkg)) for m in mods}
    (pkg / _engine.SOURCES_FILE).write_text(json.dumps(hashes))
    assert _engine.why_pure(mods, pkg) is None
    b = _engine.source_path("vmacheck.explore.b", pkg)
    b.write_text(b.read_text() + "x = 1\n")
    assert _engine.why_pure(mods, pkg) == "b.py changed since it was compiled"


def test_the_engine_named_is_the_one_imported() -> None:
    default = _probe(SRC).stdout.splitlines()
    pure = _probe(SRC, **{_engine.PURE_ENV: "1"}).stdout.splitlines()
    assert pure[0] == f"pure Python ({_engine.PURE_ENV} is set)"
    assert pure[1].endswith("core.py")
    if os.environ.get(_engine.PURE_ENV, "") in ("", "0"):  # this process chose as the probe did
        assert default[0] == vmacheck.engine()
    assert default[1].endswith("core.py") != default[0].startswith("compiled")
    assert default[2] == pure[2]  # the same exploration either way


def test_a_compiled_checkout_edited_since_runs_the_source_and_says_so(tmp_path: Path) -> None:
    if not vmacheck.engine().startswith("compiled"):
        pytest.skip(f"the engine is not compiled here: {vmacheck.engine()}")
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    modes = copy / "vmacheck" / "explore" / "modes.py"
    modes.write_text(modes.read_text() + "\n# edited\n")
    out = _probe(copy)
    engine, core, executions = out.stdout.splitlines()
    assert engine == "pure Python (modes.py changed since it was compiled)"
    assert core == str(copy / "vmacheck" / "explore" / "core.py")
    assert out.stderr.count("\n") == 1 and "rebuild with `pip install -e .`" in out.stderr
    assert int(executions) > 1


CHAIN = (("locating", "Locating"), ("checking", "Checking"), ("ending", "Ending"),
         ("holding", "Holding"), ("replaying", "Replaying"), ("core", "Execution"))


def test_each_execution_attribute_is_declared_once_along_its_chain_of_bases() -> None:
    """mypyc visits an attribute once per class of the chain that declares it: declared
    twice, the cyclic collector counts its references twice and never frees a cycle through
    the execution."""
    import ast

    declared: dict[str, str] = {}
    twice = []
    for module, cls in CHAIN:
        tree = ast.parse((SRC / "vmacheck" / "explore" / f"{module}.py").read_text())
        [body] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
        for node in ast.walk(body):
            if not isinstance(node, ast.AnnAssign):
                continue
            target = node.target
            if isinstance(target, ast.Name):
                where = declared.setdefault(target.id, cls)
                if where != cls:
                    twice.append(f"{target.id} in {where} and {cls}")
            elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                  and target.value.id == "self" and target.attr in declared):
                twice.append(f"self.{target.attr} annotated in {cls}, declared in "
                             f"{declared[target.attr]}")
    assert not twice


def test_an_unclosed_execution_in_a_reference_cycle_is_freed() -> None:
    """A model coroutine that keeps the execution in a local makes a cycle (execution ->
    thread -> coroutine -> execution): the cyclic collector frees it, compiled or not."""
    import gc

    from vmacheck.explore import ops
    from vmacheck.explore.core import Execution

    def model() -> list[tuple[str, object]]:
        x = vmacheck.Var("x", 0)

        async def keeps_it() -> None:
            ex = ops.current()
            await x.store(1)
            await x.store(ex.serial)

        return [("t", keeps_it())]

    made = set()
    for _ in range(5):
        ex = Execution(model)
        ex.step(0)
        made.add(ex.serial)
    del ex
    ops._CURRENT = None
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is Execution and o.serial in made]


def test_an_extension_of_a_module_no_longer_compiled_is_a_stray(tmp_path: Path) -> None:
    """An in-place build of an older list leaves extensions whose group library no longer has
    them: their source runs (``stray_modules``), and setup.py removes them when it builds."""
    pkg = tmp_path / "vmacheck"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (pkg / "explore").mkdir(parents=True)
    (pkg / "explore" / f"units{suffix}").write_bytes(b"")
    (pkg / "explore" / f"core{suffix}").write_bytes(b"")
    (pkg / "explore" / "units.py").write_text("")
    assert _engine.stray_modules(pkg) == ("vmacheck.explore.units",)
