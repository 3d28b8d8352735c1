"""The litmus files in this folder give the kernel memory model's verdicts (``Result:``), or
vmacheck's documented difference (``vmacheck:``); ``vmacheck litmus`` must answer that."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from vmacheck.cli import main
from vmacheck.litmus import LitmusError, parse, run

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*.litmus"))


def expected(text: str) -> tuple[str, str]:
    lkmm = re.search(r"Result:\s*(\w+)", text)
    ours = re.search(r"vmacheck:\s*(\w+)", text)
    assert lkmm is not None
    return lkmm.group(1), ours.group(1) if ours else lkmm.group(1)


def test_the_classic_patterns_are_all_there() -> None:
    names = {f.stem.split("+")[0] for f in FILES}
    assert {"SB", "MP", "LB", "WRC", "IRIW", "2", "R", "S", "ISA2", "RCU-MP",
            "RCU-GP"} <= names
    for family in ("SB", "MP", "LB", "WRC", "IRIW", "2", "R", "S", "ISA2", "RCU-MP", "RCU-GP"):
        verdicts = {expected(f.read_text())[0] for f in FILES if f.stem.split("+")[0] == family}
        assert verdicts == {"Sometimes", "Never"}, family


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_verdict(path: Path) -> None:
    _, ours = expected(path.read_text())
    verdict = run(parse(path.read_text()))
    assert verdict.verdict == ours
    assert bool(verdict.witness) == (ours != "Never")


@pytest.mark.parametrize("name", ["SB+poonceonces", "MP+poonceonces", "IRIW+poonceonces+OnceOnce",
                                  "RCU-GP+poonceonces"])
def test_sc_forbids_the_weak_outcomes(name: str) -> None:
    assert run(parse((HERE / f"{name}.litmus").read_text()), memory_model="sc").verdict == "Never"


def test_witness_replays_to_the_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["litmus", str(HERE / "SB+poonceonces.litmus")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Test SB+poonceonces Sometimes")
    assert "witness schedule" in out and "0:r0=0; 1:r0=0" in out


BAD = """C bad
{}
P0(int *x)
{
	int r0;
	r0 = READ_ONCE(*x);
	if (r0 == 1)
		WRITE_ONCE(*x, 2);
}
exists (0:r0=1)
"""


def test_unsupported_construct_is_one_line_exit_2(tmp_path: Path) -> None:
    with pytest.raises(LitmusError, match="unsupported construct: if"):
        parse(BAD)
    f = tmp_path / "bad.litmus"
    f.write_text(BAD.replace("if (r0 == 1)\n\t\tWRITE_ONCE(*x, 2);", "atomic_long_inc(x);"))
    proc = subprocess.run([sys.executable, "-m", "vmacheck.cli", "litmus", str(f)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"vmacheck: error: {f}: unsupported construct: atomic_long_inc"]
    assert main(["litmus", str(tmp_path / "missing.litmus")]) == 2
