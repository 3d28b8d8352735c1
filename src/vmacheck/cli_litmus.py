"""``vmacheck litmus FILE``: answer a kernel C litmus test like herd7 (Always, Sometimes or
Never), with a witness schedule, under the chosen memory model (default ``weak``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from vmacheck.cli_support import UsageError
from vmacheck.explore.memory import MEMORY_MODELS


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``litmus`` command on the CLI's subparsers."""
    p = sub.add_parser("litmus", help="run a kernel C litmus test (Always/Sometimes/Never)")
    p.add_argument("file", nargs="+", metavar="FILE", help="a .litmus file (several allowed)")
    p.add_argument("--memory-model", default="weak", choices=list(MEMORY_MODELS),
                   help="memory model (default: weak)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    p.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS)


def do_litmus(args: argparse.Namespace) -> int:
    """Run each file; exit 0 (verdicts printed) or 2 (unreadable or unsupported test)."""
    from vmacheck.litmus import LitmusError, parse, run

    verdicts = []
    for name in args.file:
        path = Path(name)
        try:
            text = path.read_text()
        except OSError as err:
            raise UsageError(f"cannot read {name}: {err.strerror}") from None
        try:
            verdicts.append(run(parse(text), memory_model=args.memory_model))
        except LitmusError as err:
            raise UsageError(f"{name}: {err}") from None
    if args.json:
        json.dump([asdict(v) for v in verdicts], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for v in verdicts:
        print(f"Test {v.name} {v.verdict}: exists {v.condition} holds in {v.satisfying} of "
              f"{v.states} final states ({v.executions} executions, memory model "
              f"{v.memory_model})")
        if v.witness:
            print(f"  witness schedule {v.witness}: {v.witness_state}")
        for f in v.findings:
            print(f"  finding: {f}")
    return 0
