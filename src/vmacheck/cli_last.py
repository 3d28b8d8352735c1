"""What ``vmacheck show BUG-ID`` needs from the last ``vmacheck check``.

``check`` saves, per bug id, the runs it appeared in (scenario, versions, configuration,
variant files) and the exploration options, in ``$VMACHECK_CACHE_DIR/last-check.json``
(default ``$XDG_CACHE_HOME/vmacheck`` or ``~/.cache/vmacheck``).  ``show`` re-runs exactly
those runs, so it prints the same findings the check found, with their full reports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vmacheck.cli_support import UsageError


def cache_file() -> Path:
    base = os.environ.get("VMACHECK_CACHE_DIR")
    if base:
        return Path(base) / "last-check.json"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "vmacheck" / "last-check.json"


def save_last_check(runs: list[Any], options: dict[str, Any]) -> None:
    """Remember where each bug of ``runs`` appeared (best effort: a read-only cache is
    not an error of the check)."""
    from vmacheck.report.summary import bug_id

    bugs: dict[str, dict[str, Any]] = {}
    for run in runs:
        for f in run.result.findings:
            entry = bugs.setdefault(bug_id(f), {"runs": [], "variant_files": [
                os.path.abspath(p) for p in getattr(run, "variant_files", ())]})
            where = {"scenario": run.scenario, "variants": run.variants,
                     "config": run.config}
            if options.get("max_seconds") is not None:
                where["max_seconds"] = round(run.result.seconds * 2 + 5, 1)
            if where not in entry["runs"]:
                entry["runs"].append(where)
    opts = {k: v for k, v in options.items() if k != "max_seconds"}
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"options": opts, "bugs": bugs}, indent=1),
                        encoding="utf-8")
    except OSError:
        pass


def load_last_check(bug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The saved entry of ``bug`` and the options of the check that found it."""
    import difflib

    path = cache_file()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"no saved check to show {bug} from (run 'vmacheck check' "
                         "first)") from None
    bugs: dict[str, Any] = doc.get("bugs", {})
    if bug not in bugs:
        close = difflib.get_close_matches(bug, list(bugs), n=3, cutoff=0.5)
        hint = (f"; did you mean {', '.join(close)}?" if close else
                f"; the last check found: {', '.join(sorted(bugs)) or 'no bugs'}")
        raise UsageError(f"unknown bug id {bug!r}{hint}")
    options: dict[str, Any] = dict(doc.get("options", {}))
    entry: dict[str, Any] = bugs[bug]
    return entry, options
