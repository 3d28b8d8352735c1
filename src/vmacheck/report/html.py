"""A self-contained HTML report: verdict table, per-finding sequence diagrams, outcomes, diffs.

The page has its CSS, script and SVG inline and loads nothing from the network.  Stable hooks
for tools and tests: ``table#verdicts``; per finding a ``section.finding`` holding a
``table.sequence`` whose header has one ``th.thread`` per thread and whose body has one
``tr.step`` per step, the violating step also ``.violation``; lock ops are ``span.acquire`` /
``span.release``; a thread holding locks has its lifeline cell marked ``td.holding``.
"""

from __future__ import annotations

import html
from typing import Any

from vmacheck.explore.findings import Finding
from vmacheck.report import _common as c
from vmacheck.report.text import render_diff, render_finding

_MAX_ROWS = 400

_CSS = """
:root { --bug: #b3261e; --warn: #a05a00; --ok: #1b7a35; --line: #c8ccd2; --hold: #4a6fa5; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d1f23; max-width: 1320px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin-top: 32px; }
h3 { font: 600 15px ui-monospace, monospace; margin: 0 0 6px; }
table { border-collapse: collapse; }
#verdicts td, #verdicts th, table.outcomes td, table.outcomes th {
  border-bottom: 1px solid var(--line); padding: 4px 12px; text-align: left; }
#verdicts th, table.outcomes th { background: #f1f3f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict-findings { color: var(--bug); font-weight: 600; }
.verdict-clean { color: var(--ok); font-weight: 600; }
section.finding { border: 1px solid var(--line); border-left: 6px solid var(--bug);
  border-radius: 4px; padding: 12px 16px; margin: 18px 0; }
section.finding.warning { border-left-color: var(--warn); }
.meta { color: #555; margin: 2px 0 10px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; margin: 6px 0; }
.threads { display: flex; flex-wrap: wrap; gap: 12px; }
.threads pre { flex: 1 1 300px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
table.sequence { margin: 10px 0; font-family: ui-monospace, monospace; font-size: 13px; }
table.sequence th.thread { padding: 4px 14px; background: #e8edf5; border: 1px solid var(--line);
  min-width: 180px; }
table.sequence th.stepno, table.sequence td.stepno { color: #777; text-align: right;
  padding-right: 10px; }
table.sequence td.lane { padding: 2px 14px; border-left: 2px dashed var(--line);
  border-right: 2px dashed transparent; white-space: nowrap; }
table.sequence td.lane.holding { border-left: 4px solid var(--hold); }
table.sequence tr.step:hover { background: #f3f6fb; }
tr.step.violation { background: #fde7e6; outline: 2px solid var(--bug); }
tr.step.violation td.active::after { content: "  \\2190 " attr(data-kind); color: var(--bug);
  font-weight: 600; }
span.acquire { color: #0b5394; font-weight: 600; }
span.release { color: #38761d; }
span.obj { text-decoration: underline dotted; }
svg.icon { width: 12px; height: 12px; vertical-align: -1px; margin-right: 3px; }
tr.elided td { color: #777; font-style: italic; }
table.sequence td.focus, table.sequence th.focus { background: #fff7d6; }
.replay { display: flex; gap: 8px; align-items: center; }
.replay pre { flex: 1; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
button.copy { font-size: 12px; padding: 3px 8px; cursor: pointer; }
details > summary { cursor: pointer; color: #444; margin: 6px 0; }
.legend { color: #555; font-size: 12px; }
"""

_SCRIPT = """
document.addEventListener('click', function (ev) {
  var b = ev.target.closest('button.copy');
  if (!b) return;
  var text = b.parentNode.querySelector('pre').textContent;
  var done = function () { b.textContent = 'copied'; };
  try {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var r = document.createRange(); r.selectNodeContents(b.parentNode.querySelector('pre'));
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r); done();
    }
  } catch (e) { /* selecting by hand still works */ }
});
document.querySelectorAll('table.sequence th.thread').forEach(function (th) {
  th.title = 'click to highlight this thread';
  th.addEventListener('click', function () {
    var col = th.cellIndex, table = th.closest('table');
    table.querySelectorAll('tr').forEach(function (tr) {
      var cell = tr.cells[col];
      if (cell) cell.classList.toggle('focus');
    });
  });
});
"""

_ICONS = """<svg width="0" height="0" style="position:absolute" aria-hidden="true">
<symbol id="i-lock" viewBox="0 0 12 12"><rect x="2" y="5" width="8" height="6" rx="1"
 fill="currentColor"/><path d="M4 5V3.5a2 2 0 0 1 4 0V5" fill="none" stroke="currentColor"
 stroke-width="1.4"/></symbol>
<symbol id="i-unlock" viewBox="0 0 12 12"><rect x="2" y="5" width="8" height="6" rx="1"
 fill="none" stroke="currentColor" stroke-width="1.2"/><path d="M4 5V3.5a2 2 0 0 1 4 0"
 fill="none" stroke="currentColor" stroke-width="1.4"/></symbol>
</svg>"""

_e = html.escape


def _op_html(op: str, obj: str) -> str:
    kind = c.lock_op(op)
    text = _e(op)
    if obj and obj in op:
        head, _, tail = op.rpartition(obj)
        text = f'{_e(head)}<span class="obj">{_e(obj)}</span>{_e(tail)}'
    if kind == "acquire":
        return f'<span class="acquire"><svg class="icon"><use href="#i-lock"/></svg>{text}</span>'
    if kind == "release":
        return (f'<span class="release"><svg class="icon"><use href="#i-unlock"/></svg>'
                f"{text}</span>")
    return f'<span class="op">{text}</span>'


def _held_after(finding: Finding) -> list[dict[int, tuple[str, ...]]]:
    """Per step, the locks each thread holds once the step has run."""
    trace = finding.trace
    end = {v.tid: v.held for v in c.threads(finding)}
    nxt: dict[int, int] = {}
    after_step: list[tuple[str, ...]] = [() for _ in trace]
    for k in range(len(trace) - 1, -1, -1):
        tid = trace[k].tid
        after_step[k] = trace[nxt[tid]].held if tid in nxt else end.get(tid, trace[k].held)
        nxt[tid] = k
    state: dict[int, tuple[str, ...]] = {}
    out = []
    for k, s in enumerate(trace):
        state[s.tid] = after_step[k]
        out.append(dict(state))
    return out


def sequence_diagram(finding: Finding) -> str:
    """The interleaving as a table: threads as columns, steps as rows."""
    cols = c.columns(finding)
    stop = c.focus(finding)
    held = _held_after(finding)
    head = "".join(f'<th class="thread" data-tid="{tid}">{_e(name)}</th>' for tid, name in cols)
    rows = []
    trace = finding.trace
    skip = range(60, len(trace) - 60) if len(trace) > _MAX_ROWS else range(0)
    for k, s in enumerate(trace):
        if getattr(s, "ghost", False) and k != stop:  # checker bookkeeping
            continue
        if k in skip:
            if k == skip.start:
                rows.append(f'<tr class="elided"><td></td><td colspan="{len(cols)}">'
                            f"... {len(skip)} steps not shown ...</td></tr>")
            continue
        cells = []
        for tid, _ in cols:
            locks = held[k].get(tid, ())
            cls = "lane holding" if locks else "lane"
            title = f' title="holds: {_e(", ".join(locks))}"' if locks else ""
            if tid == s.tid:
                where = _e(c.where(s.location))
                cells.append(f'<td class="{cls} active" data-kind="{_e(finding.kind)}"{title}>'
                             f'<span title="{where}">{_op_html(s.op, s.obj)}</span></td>')
            else:
                cells.append(f'<td class="{cls}"{title}></td>')
        cls = "step violation" if k == stop else "step"
        rows.append(f'<tr class="{cls}" data-thread="{_e(s.thread)}"><td class="stepno">'
                    f'{s.index + 1}</td>{"".join(cells)}</tr>')
    return (f'<table class="sequence"><thead><tr><th class="stepno">step</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def _threads_html(finding: Finding) -> str:
    blocks = []
    for v in c.threads(finding):
        lines = [f"task {v.name} (tid {v.tid}) {v.state}"
                 + (f": {v.pending}" if v.pending and v.state != "exited" else ""),
                 " Call Trace:"]
        lines += [f"  {c.where(loc)}" for loc in reversed(v.stack)] or ["  (no model frames)"]
        n = len(v.held)
        lines.append(f"{n} lock{'s' if n != 1 else ''} held by {v.name}:" if n
                     else f"no locks held by {v.name}.")
        lines += [f" #{i}: {h}" for i, h in enumerate(v.held)]
        blocks.append(f"<pre>{_e(chr(10).join(lines))}</pre>")
    return f'<div class="threads">{"".join(blocks)}</div>'


def _finding_html(run: Any, finding: Finding, anchor: str) -> str:
    head = c.header(finding)
    sev = "warning" if c.is_warning(finding) else "error"
    meta = (f"scenario <b>{_e(run.scenario)}</b> &middot; variants "
            f"<code>{_e(c.variants_text(run.variants))}</code> &middot; config "
            f"<code>{_e(c.config_text(run.config))}</code> &middot; thread "
            f"<code>{_e(finding.thread or '-')}</code> at <code>"
            f"{_e(c.where(c.location(finding)))}</code> &middot; seen in "
            f"{finding.occurrences} execution(s), minimised to {finding.context_switches} "
            f"context switch(es) from {finding.original_context_switches}")
    replay = c.replay_line(run, finding)
    return (
        f'<section class="finding {sev}" id="{anchor}" data-kind="{_e(finding.kind)}">'
        f"<h3>{'<br>'.join(_e(h) for h in head)}</h3>"
        f'<div class="message mono">{_e(finding.message)}</div><div class="meta">{meta}</div>'
        f"{_threads_html(finding)}"
        '<p class="legend">Threads are columns, steps are rows; '
        '<svg class="icon" style="color:#0b5394"><use href="#i-lock"/></svg>acquire, '
        '<svg class="icon" style="color:#38761d"><use href="#i-unlock"/></svg>release; a '
        "solid blue lifeline means the thread holds locks (hover for which); the red row is "
        "the violating step.</p>"
        f"{sequence_diagram(finding)}"
        f'<div class="replay"><pre class="replay-command">{_e(replay)}</pre>'
        '<button class="copy" type="button">copy</button></div>'
        f"<details><summary>plain-text splat</summary><pre>"
        f"{_e(render_finding(run, finding))}</pre></details></section>")


def _verdicts(runs: list[Any]) -> str:
    rows = []
    for i, run in enumerate(runs):
        r = run.result
        kinds = _e(c.kinds_text(r.findings))
        if r.findings:
            kinds = f'<a href="#run-{i}-f-0">{kinds}</a>'
        verdict = run.verdict()
        shown = run.state() if hasattr(run, "state") else verdict  # "clean" only if complete
        rows.append(
            f'<tr class="run"><td>{_e(run.scenario)}</td>'
            f"<td><code>{_e(c.variants_text(run.variants))}</code></td>"
            f'<td class="verdict-{_e(verdict)}">{_e(shown)}</td>'
            f"<td>{'yes' if r.complete else _e('no (' + r.stop_reason + ')')}</td>"
            f'<td class="num">{r.executions}</td><td class="num">{r.seconds:.2f}</td>'
            f"<td>{kinds}</td></tr>")
    return ('<table id="verdicts"><thead><tr><th>scenario</th><th>variants</th><th>verdict'
            "</th><th>complete</th><th>executions</th><th>seconds</th><th>findings</th></tr>"
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def _outcomes(run: Any) -> str:
    r = run.result
    rows = "".join(f'<tr><td class="num">{o.count}</td><td>{_e(o.label or "(unlabelled)")}</td>'
                   f"<td><code>{_e(run.replay_command(o.schedule))}</code></td></tr>"
                   for o in r.outcomes)
    return (f"<h3>{_e(run.scenario)} [{_e(c.variants_text(run.variants))}]</h3>"
            '<table class="outcomes"><thead><tr><th>count</th><th>outcome</th>'
            f"<th>replay</th></tr></thead><tbody>{rows}</tbody></table>")


def render_html(runs: list[Any], *, outcomes: list[Any] | None = None,
                diffs: list[dict[str, Any]] | None = None,
                title: str = "vmacheck report") -> str:
    """The page :func:`write_html` writes, as a string."""
    n = sum(len(r.result.findings) for r in runs)
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="meta">{len(runs)} run(s), {n} finding(s)</p>', _verdicts(runs)]
    if n:
        body.append("<h2>Findings</h2>")
    for i, run in enumerate(runs):
        for j, f in enumerate(run.result.findings):
            body.append(_finding_html(run, f, f"run-{i}-f-{j}"))
    if outcomes:
        body.append('<h2>Outcomes</h2><div id="outcomes">')
        body += [_outcomes(r) for r in outcomes]
        body.append("</div>")
    if diffs:
        body.append('<h2>Behaviour diffs</h2><div id="diffs">')
        body += [f'<pre class="diff">{_e(render_diff(d))}</pre>' for d in diffs]
        body.append("</div>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{_ICONS}"
            f"{''.join(body)}<script>{_SCRIPT}</script></body></html>\n")


def write_html(path: str, runs: list[Any], *, outcomes: list[Any] | None = None,
               diffs: list[dict[str, Any]] | None = None,
               title: str = "vmacheck report") -> None:
    """Write one self-contained HTML page for ``runs`` (and outcome tables and diffs)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(runs, outcomes=outcomes, diffs=diffs, title=title))
