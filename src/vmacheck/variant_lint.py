"""Checks of a user's variant file before it is imported.

A variant replaces a model function, and model functions run under the explorer: they are
``async def`` coroutines whose every touch of shared state is an awaited vmacheck op.  Code
that blocks, does I/O, uses its own event loop or ends the process would hang or break the
exploration, so it is refused up front with one line naming the file, line and problem
(``vmacheck check`` prints it and exits 2), instead of surfacing later as a confusing
finding in some unrelated model function.
"""

from __future__ import annotations

import ast
from pathlib import Path

_FILE_CALLS = {"open", "io.open", "os.open", "os.remove", "os.unlink", "os.rename",
               "os.replace", "os.mkdir", "os.makedirs", "os.rmdir", "shutil.copy",
               "shutil.rmtree", "shutil.move"}
_PATH_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "unlink", "mkdir",
                 "touch", "rmdir"}
_EXITS = {"sys.exit", "exit", "quit", "os._exit", "os.abort"}
_SLEEPS = {"time.sleep", "sleep"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _is_variant_decorator(dec: ast.expr) -> bool:
    target = dec.func if isinstance(dec, ast.Call) else dec
    name = _dotted(target)
    return name == "variant" or name.endswith(".variant") or name.endswith("kfunc")


def problems(source: str, filename: str) -> list[tuple[int, str]]:
    """``(line, problem)`` for everything in ``source`` a variant file may not do."""
    tree = ast.parse(source, filename)
    out: list[tuple[int, str]] = []
    sleep_imported = False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_is_variant_decorator(d)
                                                     for d in node.decorator_list):
            out.append((node.lineno, f"variant {node.name} is not 'async def' (model "
                        "functions are coroutines that await vmacheck ops)"))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names]
            if mod == "asyncio" or any(n.split(".")[0] == "asyncio" for n in names
                                       if mod is None):
                out.append((node.lineno, "uses asyncio (the explorer schedules model "
                            "threads; await vmacheck ops only)"))
            if mod == "time" and "sleep" in names:
                sleep_imported = True
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in _SLEEPS and (name == "time.sleep" or sleep_imported):
                out.append((node.lineno, "calls time.sleep (a model thread must not block; "
                            "model a wait with a vmacheck lock or loop_begin/retry)"))
            elif name in _FILE_CALLS or (isinstance(node.func, ast.Attribute)
                                         and node.func.attr in _PATH_METHODS):
                what = node.func.attr if isinstance(node.func, ast.Attribute) else name
                out.append((node.lineno, f"does file I/O ({what}); models keep their "
                            "state in vmacheck objects"))
            elif name in _EXITS:
                out.append((node.lineno, f"calls {name} (a model must not end the process; "
                            "use BUG_ON or WARN_ON)"))
    return sorted(out)


def lint_variant_file(path: Path) -> None:
    """Raise :class:`vmacheck.kernel.variants.VariantError` (``FILE:LINE: problem``) for
    the first thing in the variant file ``path`` that a model may not do."""
    from vmacheck.kernel.variants import VariantError

    try:
        source = path.read_text(encoding="utf-8")
        found = problems(source, str(path))
    except SyntaxError as err:
        raise VariantError(f"{path}:{err.lineno}: syntax error: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise VariantError(f"{path}: cannot be read: {err}") from None
    if found:
        line, problem = found[0]
        raise VariantError(f"{path}:{line}: {problem}")
