"""Run an mm scenario exhaustively under one of the three kernel configurations."""

from __future__ import annotations

from typing import Any

from vmacheck.scenarios import catalogue

AFTER_SERIES: dict[str, bool] = {"SERIES_APPLIED": True}
BEFORE_ON: dict[str, bool] = {"SERIES_APPLIED": False, "PER_VMA_LOCK": True}
BEFORE_OFF: dict[str, bool] = {"SERIES_APPLIED": False, "PER_VMA_LOCK": False}
PER_VMA_CONFIGS = [AFTER_SERIES, BEFORE_ON]
ALL_CONFIGS = [AFTER_SERIES, BEFORE_ON, BEFORE_OFF]


def run_mm(name: str, config: dict[str, bool] | None = None,
           variants: dict[str, str] | None = None) -> Any:
    r = catalogue.run(name, variants=variants or {}, config=config or {}, mode="dpor")
    assert r.complete, f"{name}: exploration incomplete ({r.stop_reason})"
    return r


def invariant_names(r: Any) -> set[str]:
    return {f.message.removeprefix("invariant violated: ") for f in r.by_kind("invariant")}
