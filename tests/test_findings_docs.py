"""The commands in docs/findings/ run and print what the write-ups show."""

from __future__ import annotations

import pytest

from doc_commands import ROOT, Paste, differences, pastes, run

PASTES = [p for doc in sorted((ROOT / "docs" / "findings").glob("*.md")) for p in pastes(doc)]


def test_every_write_up_has_commands() -> None:
    docs = {p.source for p in PASTES}
    assert docs == {f"docs/findings/{d.name}"
                    for d in (ROOT / "docs" / "findings").glob("*.md")}


@pytest.mark.parametrize("paste", PASTES, ids=lambda p: f"{p.source}:{p.line}")
def test_documented_command_prints_what_the_write_up_shows(paste: Paste) -> None:
    code, out = run(paste)
    assert code == paste.exit_code, (paste.args, code, "\n".join(out))
    problem = differences(paste, out)
    assert problem is None, problem
