"""Helpers of the command line: argument checking, selections, live progress."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from vmacheck.explore.api import Progress as ExploreProgress
from vmacheck.explore.schedule import ScheduleError, parse_schedule
from vmacheck.kernel.variants import Selection, VariantError, load_variant_file, parse_variant
from vmacheck.scenarios.catalogue import Scenario, ScenarioError, get, load_all


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


def parse_config(items: list[str]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name or value.lower() not in ("y", "n", "yes", "no", "1", "0",
                                                        "true", "false", "on", "off"):
            raise UsageError(f"--config {item!r}: expected NAME=y or NAME=n")
        out[name.upper().removeprefix("CONFIG_")] = value.lower() in ("y", "yes", "1", "true",
                                                                       "on")
    return out


def load_variant_files(paths: list[str]) -> list[str]:
    loaded: list[str] = []
    for path in paths:
        try:
            loaded += load_variant_file(path)
        except VariantError as err:
            raise UsageError(str(err)) from None
    return loaded


def selection_from_args(args: argparse.Namespace) -> Selection:
    load_all()
    load_variant_files(args.variant_file)
    variants: dict[str, str] = {}
    for text in args.variant:
        for part in text.split(","):
            try:
                fn, version = parse_variant(part.strip())
            except VariantError as err:
                raise UsageError(str(err)) from None
            variants[fn] = version
    config = parse_config(args.config)
    if "ENOMEM" in getattr(args, "inject", []):
        config["INJECT_ENOMEM"] = True
    return Selection(variants, config)


def parse_selection_list(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        try:
            fn, version = parse_variant(part.strip())
        except VariantError as err:
            raise UsageError(str(err)) from None
        out[fn] = version
    return out


def scenario(name: str) -> Scenario:
    try:
        return get(name)
    except ScenarioError as err:
        raise UsageError(str(err)) from None


def schedule(text: str) -> list[int]:
    try:
        return parse_schedule(text)
    except ScheduleError as err:
        raise UsageError(f"--schedule: {err}") from None


class Progress:
    """Live progress on a terminal (one rewritten line on stderr); on anything else a single
    summary line per run when it ends."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.enabled = enabled
        self.label = ""
        self.limit: int | None = None
        self._start = time.monotonic()
        self._shown = False

    def start(self, label: str, limit: int | None = None) -> None:
        self.label = label
        self.limit = limit
        self._start = time.monotonic()

    def __call__(self, p: ExploreProgress) -> None:
        if not (self.enabled and self.tty):
            return
        rate = p.executions / p.elapsed if p.elapsed > 0 else 0.0
        est = ""
        if self.limit and rate > 0:
            est = f", ~{max(self.limit - p.executions, 0) / rate:.0f}s left"
        line = (f"  {self.label}: {p.executions} executions ({rate:.0f}/s), "
                f"{p.findings} findings, {p.elapsed:.1f}s{est}")
        if p.phase == "minimise":
            line = (f"  {self.label}: minimising {p.findings} findings: {p.executions} "
                    f"executions, {p.elapsed:.1f}s")
        self.stream.write("\r" + line[:120].ljust(120))
        self.stream.flush()
        self._shown = True

    def done(self, summary: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            if self._shown:
                self.stream.write("\r" + " " * 120 + "\r")
                self.stream.flush()
            self._shown = False
            return
        self.stream.write(f"vmacheck: {summary}\n")
        self.stream.flush()


def describe_run(run: Any) -> str:
    r = run.result
    variants = ", ".join(f"{k}@{v}" for k, v in sorted(run.variants.items())) or "defaults"
    state = "complete" if r.complete else f"incomplete ({r.stop_reason})"
    return (f"{run.scenario} [{variants}]: {run.verdict()}, {r.executions} executions, "
            f"{r.seconds:.2f}s, {state}")
