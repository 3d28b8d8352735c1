"""`vmacheck list`: every replaceable function, the configuration switches, and summaries
that make sense with only the repository."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

from vmacheck.cli import main
from vmacheck.cli_support import CONFIG_SWITCHES
from vmacheck.kernel.variants import REGISTRY
from vmacheck.report.listing import public_text


def listing(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list", *args]) == 0
    return out.getvalue()


def test_every_replaceable_function_and_version_is_listed() -> None:
    text = listing()
    assert "  vma_start_write@mainline (default)  " in text  # the README's own example
    for name, k in REGISTRY.items():
        for version in k.versions:
            if k.versions[version].__module__.startswith("vmacheck."):
                assert re.search(rf"^  [* ] {re.escape(name)}@{re.escape(version)}[ (]", text,
                                 re.M), f"{name}@{version} missing"


def test_configuration_switches_are_listed() -> None:
    text = listing()
    section = text.split("Configuration switches (--config NAME=y|n):\n", 1)[1]
    for name in CONFIG_SWITCHES:
        assert re.search(rf"^  {name} +\S", section, re.M)
    assert set(json.loads(listing("--json"))["config"]) == set(CONFIG_SWITCHES)


def test_summaries_have_no_references_outside_the_repository() -> None:
    text = listing()
    for bad in (r"spec\s*§", r"\bspec \d", r"\b[Ss]eed \d{3}", r"\bS\d{1,2}\b", "…", "``"):
        assert not re.search(bad, text), (bad, re.search(rf".*{bad}.*", text))


def test_public_text_is_one_line_without_markup() -> None:
    assert public_text("``mmap_region``\n   (mm/vma.c).") == "mmap_region (mm/vma.c)."


def test_sources_cite_only_the_kernel() -> None:
    """Docstrings, comments and docs name kernel files, functions and commits, never the
    working notes the project started from."""
    root = Path(__file__).resolve().parents[2]
    files = [*root.glob("src/**/*.py"), *root.glob("tests/variants/*.py"),
             root / "README.md", *root.glob("docs/**/*.md")]
    for path in files:
        text = path.read_text()
        for bad in (r"spec\s*§", r"\b[Ss]eed \d{3}\b", r"\(S\d{1,2}\)"):
            m = re.search(bad, text)
            assert m is None, (str(path.relative_to(root)), m.group(0) if m else "")


