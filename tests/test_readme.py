"""Every output pasted in the README is what its command prints now.

The README's ```console blocks hold ``$ vmacheck ...`` commands and their output; this test
runs them in order (``show`` needs the ``check`` before it) and compares, exactly where the
paste is whole and line by line around ``...`` where it is abridged (see
``tests/doc_commands.py``).  Plain ``` blocks starting with ``$ vmacheck`` would escape the
test, so there must be none.
"""

from __future__ import annotations

import re

import pytest

from doc_commands import ROOT, Paste, differences, pastes, run

README = ROOT / "README.md"


def test_readme_has_no_untested_pasted_output() -> None:
    text = README.read_text(encoding="utf-8")
    untested = re.findall(r"^```(?!console)[a-z]*\n\$ vmacheck .*$", text, re.M)
    assert not untested, untested
    assert len(pastes(README)) >= 5


def test_readme_outputs_are_what_the_commands_print(tmp_path: object,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMACHECK_CACHE_DIR", str(tmp_path))
    problems: list[str] = []
    paste: Paste
    for paste in pastes(README):
        code, out = run(paste)
        if code != paste.exit_code:
            problems.append(f"{paste.source}:{paste.line}: exit {code}, README says "
                            f"{paste.exit_code}")
        problem = differences(paste, out)
        if problem is not None:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)
