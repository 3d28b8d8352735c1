"""`vmacheck list`: every replaceable function, the configuration switches, and summaries
that make sense with only the repository."""

from __future__ import annotations

import contextlib
import io
import json
import re

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


def test_public_text_drops_references_and_names_seeds() -> None:
    assert public_text("fault deadlocks (spec 1.4 #1)") == "fault deadlocks"
    assert public_text("``mmap_region`` (mm/vma.c; spec §3.3).") == "mmap_region (mm/vma.c)."
    assert public_text("slow path under mprotect (S15)") == "slow path under mprotect"
    assert public_text("exactly as posted (seed 002, v2 3/5): x") == "exactly as posted: x"
    assert public_text("Seed 003 (Carlos Llamas 2024): y").startswith("Carlos Llamas' 2024")
