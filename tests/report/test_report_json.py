"""JSON output: valid against the checked-in schema, which really constrains it."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from vmacheck.explore.findings import FINDING_KINDS
from vmacheck.report.jsonout import SCHEMA_VERSION, load_schema, to_json, write_json
from vmacheck.scenarios.catalogue import ScenarioRun


def validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema,
                                           format_checker=jsonschema.FormatChecker())


def test_schema_ships_with_the_package_and_is_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "array"
    run_schema = schema["$defs"]["run"]
    assert run_schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION == "1"
    assert "schema_version" in run_schema["required"]
    assert "$comment" in schema and "description" in schema
    assert set(FINDING_KINDS) <= set(schema["$defs"]["finding"]["properties"]["kind"]
                                     ["examples"])


def test_json_validates_and_carries_the_fields(runs: list[ScenarioRun],
                                               outcome_run: ScenarioRun, tmp_path: Any) -> None:
    doc = to_json([*runs, outcome_run])
    errors = list(validator().iter_errors(doc))
    assert not errors, [e.message for e in errors[:5]]
    assert isinstance(doc, list) and all(r["schema_version"] == "1" for r in doc)
    assert len(doc) == len(runs) + 1
    by_name = {r["scenario"]: r for r in doc}
    deadlock = by_name["report-deadlock"]
    run = next(r for r in runs if r.scenario == "report-deadlock")
    assert deadlock["variants"] == {"lock_vma": "seed", "zap_vma_range": "v2"}
    assert deadlock["config"] == {"CONFIG_DEBUG_VM": False, "CONFIG_PER_VMA_LOCK": True}
    assert deadlock["verdict"] == "findings" and deadlock["complete"] is True
    assert deadlock["executions"] == run.result.executions
    assert deadlock["stop_reason"] == "exhausted"
    f = next(x for x in deadlock["findings"] if x["kind"] == "deadlock")
    src = run.result.by_kind("deadlock")[0]
    assert f["schedule"] == src.minimal_schedule and f["original_schedule"] == src.schedule
    assert f["location"] == {"function": src.location.function, "file": src.location.file,
                             "line": src.location.line}
    assert [s["op"] for s in f["trace"]] == [s.op for s in src.trace]
    assert f["trace"][0].keys() >= {"index", "thread", "op", "object", "location"}
    assert f["extra"]["cycle"] == ["shrinker/1", "truncate/2"]
    assert by_name["report-lost-update"]["verdict"] == "clean"
    assert {o["label"] for o in by_name["report-lost-update"]["outcomes"]} == {
        "map_count=1", "map_count=2"}
    invariant = by_name["report-invariant"]["findings"][0]
    assert invariant["location"] is None and invariant["thread"] == ""

    path = tmp_path / "out.json"
    write_json(str(path), runs)
    assert json.loads(path.read_text()) == to_json(runs)


@pytest.mark.parametrize("path, value", [
    ((0, "verdict"), "dirty"),
    ((0, "complete"), "yes"),
    ((0, "findings", 0, "schedule"), "0*,1"),
    ((0, "findings", 0, "location", "line"), "12"),
    ((0, "variants", "zap_vma_range"), 2),
    ((0, "schema_version"), "2"),
])
def test_schema_rejects_broken_documents(runs: list[ScenarioRun], path: tuple[Any, ...],
                                         value: Any) -> None:
    doc = copy.deepcopy(to_json(runs))
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(validator().iter_errors(doc)), f"schema accepted {path} = {value!r}"


def test_schema_requires_fields(runs: list[ScenarioRun]) -> None:
    doc = copy.deepcopy(to_json(runs))
    del doc[0]["findings"][0]["trace"]
    assert list(validator().iter_errors(doc))
