"""Every kernel-model function is replaceable, and ``vmacheck list --json`` says so.

The reference set is computed from the source, independently of the registry: every public
module-level function under ``src/vmacheck/kernel/`` whose docstring opens with a
````kernel_name```` citation follows a kernel function (``__x`` names are the kernel's own and
count as public).  Every other public function must say it is model-only ("Model ...").
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

import pytest

import vmacheck.kernel.drivers.android.binder as binder
import vmacheck.kernel.mm.vma as vma_module
from vmacheck.cli import main
from vmacheck.kernel.variants import (
    KERNEL_FILE,
    REGISTRY,
    KFunc,
    Selection,
    load_variant_file,
    select,
)
from vmacheck.scenarios import catalogue

KERNEL = Path(__file__).resolve().parents[2] / "src" / "vmacheck" / "kernel"
VARIANTS = Path(__file__).resolve().parents[1] / "variants"
MACHINERY = {"variants.py", "replaceable.py"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(KERNEL.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_functions() -> dict[str, tuple[str, str, list[str]]]:
    """name → (module, docstring, decorators) for every public module-level function."""
    out: dict[str, tuple[str, str, list[str]]] = {}
    for path in sorted(KERNEL.rglob("*.py")):
        if path.name in MACHINERY:
            continue
        tree = ast.parse(path.read_text())
        # a module modelling an older kernel registers its functions as "NAMESPACE:name"
        namespace = next((n.value.value for n in tree.body if isinstance(n, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == "MODEL_NAMESPACE"
                                  for t in n.targets)
                          and isinstance(n.value, ast.Constant)), "")
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name.startswith("_") and not node.name.startswith("__"):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            key = f"{namespace}:{node.name}" if namespace else node.name
            doc = ast.get_docstring(node) or ""
            if any(".variant(" in d for d in decorators):
                key = f"{node.name} (version)"
            elif doc.startswith("Model"):
                key = f"{node.name} (model-only, {_module_name(path)})"
            assert key not in out, f"{key} defined twice"
            out[key] = (_module_name(path), doc, decorators)
    return out


def _list_json() -> dict[str, object]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list", "--json"]) == 0
    doc: dict[str, object] = json.loads(out.getvalue())
    return doc


def test_list_json_lists_exactly_the_functions_that_follow_kernel_functions() -> None:
    source = _source_functions()
    follows = {n: v for n, v in source.items()
               if not n.endswith(")") and v[1].startswith("``")}
    unclassified = [n for n, v in source.items() if not n.endswith(")")
                    and not v[1].startswith(("``", "Model"))
                    and not any(d.startswith("kfunc(") for d in v[2])]
    assert not unclassified, f"public functions neither citing a kernel function nor Model: " \
                             f"{unclassified}"
    kfuncs = {n for n, v in source.items() if any(d.startswith("kfunc(") for d in v[2])}
    listed = _list_json()["functions"]
    assert isinstance(listed, dict)
    assert len(follows) > 120
    assert set(listed) == set(follows) | kfuncs
    for name, info in listed.items():
        module = source[name][0]
        assert info["model"] == f"{module}.{name.rsplit(':', 1)[-1]}"
        assert info["replaceable"] is True
        assert KERNEL_FILE.fullmatch(info["follows"]["file"]), (name, info["follows"])
        assert info["follows"]["function"], name
        assert info["default"] in info["versions"]


def test_cited_function_and_file_come_from_the_docstring() -> None:
    listed = _list_json()["functions"]
    assert isinstance(listed, dict)
    assert listed["vma_start_read"]["follows"] == {"function": "vma_start_read",
                                                   "file": "mm/mmap_lock.c"}
    assert listed["sys_munmap"]["follows"] == {"function": "SYSCALL_DEFINE2(munmap)",
                                               "file": "mm/mmap.c"}
    assert listed["binder_alloc_free_page"]["follows"] == {
        "function": "binder_alloc_free_page", "file": "drivers/android/binder_alloc.c"}
    assert "hansen-v2" in listed["binder_alloc_free_page"]["versions"]


def test_every_reference_is_the_dispatcher() -> None:
    """``from x import f`` in other modules and function pointers stored at import time all
    dispatch: nothing holds the bare function."""
    from vmacheck.kernel.mm import do_vmi_munmap
    from vmacheck.kernel.mm import mmap as mmap_module

    assert isinstance(vma_module.vm_area_free, KFunc)
    assert do_vmi_munmap is REGISTRY["do_vmi_munmap"]
    assert vma_module.remove_vma is REGISTRY["remove_vma"]
    assert mmap_module.remove_vma is REGISTRY["remove_vma"]
    assert binder.binder_vm_ops.close is REGISTRY["binder_vma_close"]
    assert binder.binder_fops.mmap is REGISTRY["binder_mmap"]


def test_a_never_versioned_function_is_replaced_from_a_variant_file() -> None:
    ids = load_variant_file(VARIANTS / "vma_mark_detached_no_wait.py")
    assert ids == [] or ids == ["vma_mark_detached@no-wait"]
    clean = catalogue.run("user-munmap-vs-reader")
    assert clean.complete and not clean.findings
    broken = catalogue.run("user-munmap-vs-reader", variants={"vma_mark_detached": "no-wait"})
    assert broken.complete
    assert "use-after-free" in broken.kinds()
    with select(Selection({"vma_mark_detached": "no-wait"})):
        assert REGISTRY["vma_mark_detached"].active() == "no-wait"


def test_a_variant_file_may_define_a_scenario_the_cli_lists_and_checks() -> None:
    path = str(VARIANTS / "vma_mark_detached_no_wait.py")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list", "--variant-file", path]) == 0
    assert "user-munmap-vs-reader" in out.getvalue()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["check", "user-munmap-vs-reader", "--variant-file", path,
                     "--variant", "vma_mark_detached@no-wait", "--json"])
    assert code == 1
    runs = json.loads(out.getvalue())
    assert {f["kind"] for f in runs[0]["findings"]} >= {"use-after-free"}


def test_the_same_name_in_two_modules_is_an_error() -> None:
    from vmacheck.kernel.replaceable import replaceable
    from vmacheck.kernel.variants import VariantError

    async def vma_start_read() -> None:
        """``vma_start_read`` (mm/mmap_lock.c): a second definition."""

    vma_start_read.__qualname__ = "vma_start_read"
    vma_start_read.__module__ = "vmacheck.kernel.elsewhere"
    with pytest.raises(VariantError, match="defined twice"):
        replaceable("vmacheck.kernel.elsewhere", "vma_start_read", vma_start_read)
