"""Bad input never shows a traceback: one line on stderr and exit code 2."""

from __future__ import annotations

import contextlib
import io
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmacheck.cli import main


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def assert_usage_error(args: list[str]) -> str:
    code, _, err = run_cli(args)
    lines = err.strip().splitlines()
    assert code == 2, (args, code, err)
    assert len(lines) == 1, (args, err)
    assert "Traceback" not in err
    assert lines[0].startswith("vmacheck: error: ")
    return lines[0]


def test_unknown_scenario_names_closest() -> None:
    line = assert_usage_error(["check", "test-lost-updat"])
    assert "test-lost-update" in line


def test_unknown_variant_names_closest() -> None:
    line = assert_usage_error(["check", "test-lost-update", "--variant", "vma_start_wirte@x"])
    assert "unknown function" in line


def test_malformed_schedule_says_where() -> None:
    line = assert_usage_error(["replay", "test-lost-update", "--schedule", "0*2,x,1"])
    assert "character" in line


def test_schedule_that_does_not_fit() -> None:
    line = assert_usage_error(["replay", "test-lost-update", "--schedule", "0,7"])
    assert "step 2" in line


def test_variant_file_syntax_error_names_line() -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "mine.py"
        p.write_text("from vmacheck.kernel.variants import variant\n\ndef broken(:\n")
        line = assert_usage_error(["check", "test-lost-update", "--variant-file", str(p)])
        assert ":3:" in line


def test_missing_command() -> None:
    assert_usage_error([])


_TOKENS = st.text(alphabet=string.ascii_letters + string.digits + "-_@*,.:/= ", max_size=20)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_bad_arguments(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["scenario", "schedule", "variant", "option", "file",
                                      "config", "number"]))
    if kind == "scenario":
        name = data.draw(_TOKENS.filter(lambda s: s.strip() and not s.startswith("-")))
        cmd = data.draw(st.sampled_from(["check", "outcomes"]))
        assert_usage_error([cmd, "zz-" + name])
    elif kind == "schedule":
        bad = data.draw(st.one_of(
            st.text(alphabet="0123456789*, x-;", min_size=1, max_size=15).filter(
                lambda s: not all(p.strip().replace("*", "", 1).isdigit()
                                  for p in s.split(","))),
            st.integers(min_value=2, max_value=500).map(lambda n: f"0,{n}"),
        ))
        assert_usage_error(["replay", "test-lost-update", "--schedule", bad])
    elif kind == "variant":
        v = data.draw(_TOKENS)
        assert_usage_error(["check", "test-lost-update", "--variant", "zz" + v.replace(",", "")
                            + ("" if "@" in v else "@q")])
    elif kind == "option":
        opt = data.draw(st.text(alphabet=string.ascii_lowercase + "-", min_size=1,
                                max_size=12))
        assert_usage_error(["check", f"--zz{opt}"])
    elif kind == "config":
        value = data.draw(_TOKENS.filter(lambda s: "=" not in s or
                                         s.split("=", 1)[1].lower() not in
                                         ("y", "n", "yes", "no", "1", "0", "true", "false",
                                          "on", "off")))
        assert_usage_error(["check", "test-lost-update", "--config", value])
    elif kind == "number":
        n = data.draw(st.integers(max_value=0))
        opt = data.draw(st.sampled_from(["--max-executions", "--max-steps"]))
        assert_usage_error(["check", "test-lost-update", opt, str(n)])
    else:
        body = data.draw(st.sampled_from([
            "def (:\n", "raise RuntimeError('boom')\n", "import does_not_exist_zz\n",
            "from vmacheck.kernel.variants import variant\n@variant('no_such_fn', 'x')\n"
            "async def f():\n    pass\n",
        ]))
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "variants.py"
            p.write_text(body)
            assert_usage_error(["check", "test-lost-update", "--variant-file", str(p)])


def test_missing_variant_file() -> None:
    assert_usage_error(["check", "test-lost-update", "--variant-file", "/nonexistent/x.py"])


def test_a_reader_that_goes_away_is_no_error() -> None:
    """``vmacheck list --json | head -1``: the closed pipe ends the command quietly (exit
    141, as a shell reports SIGPIPE), with no "internal error" line.  (The listing, over
    100 kB, cannot all fit in the pipe before the reader closes it.)"""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "vmacheck.cli", "list", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""
