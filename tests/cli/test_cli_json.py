"""`check --json` prints the list of runs the issue asks for, valid against the schema."""

from __future__ import annotations

import contextlib
import io
import json

import jsonschema

from vmacheck.cli import main
from vmacheck.report.jsonout import load_schema


def test_check_json_is_a_list_of_runs_valid_against_the_schema() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["check", "test-lost-update", "--json"])
    assert code == 1
    doc = json.loads(out.getvalue())
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    assert isinstance(doc, list) and len(doc) == 1
    run = doc[0]
    assert run["scenario"] == "test-lost-update" and run["verdict"] == "findings"
    assert run["complete"] is True and run["executions"] == 4 and run["variants"] == {}
    (finding,) = run["findings"]
    assert finding["kind"] == "invariant" and finding["schedule"]
    assert "both increments land" in finding["message"]
