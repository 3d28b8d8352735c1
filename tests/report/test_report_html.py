"""The HTML report: structure of the page as written, and as a real headless browser renders it.

The browser tests drive Debian's ``chromium`` (CI installs it).  Without it they skip, saying
so, except under CI (``CI`` set), where they fail.  The screenshot goes to
``artifacts/report/report.png`` at the repository root (ignored by git) for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_models import violating_step

from vmacheck.report._common import columns
from vmacheck.report.html import write_html
from vmacheck.scenarios.catalogue import ScenarioRun

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
DIFF = {"scenario": "report-deadlock", "a": "zap_vma_range@v1", "b": "zap_vma_range@v2",
        "complete": True, "only_a": {"outcomes": ["map_count=2"], "findings": []},
        "only_b": {"outcomes": [], "findings": ["deadlock: wait-for cycle"]}}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        out = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                out.append(child)
            out += child.all(tag, cls)
        return out

    def content(self) -> str:
        return self.text + "".join(c.content() for c in self.children)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("#text", {}, text=data))


def parse(text: str) -> Node:
    b = _Builder()
    b.feed(text)
    b.close()
    return b.root


def check_page(doc: Node, runs: list[ScenarioRun]) -> None:
    """What both the written file and the browser's DOM must show."""
    (table,) = [t for t in doc.all("table") if t.attrs.get("id") == "verdicts"]
    rows = table.all("tr", "run")
    assert len(rows) == len(runs)
    for row, run in zip(rows, runs, strict=True):
        cells = [c.content().strip() for c in row.all("td")]
        assert cells[0] == run.scenario and cells[2] == run.state()
        assert cells[4] == str(run.result.executions)
    findings = [f for run in runs for f in run.result.findings]
    sections = doc.all("section", "finding")
    diagrams = doc.all("table", "sequence")
    assert len(sections) == len(diagrams) == len(findings)
    for diagram, finding in zip(diagrams, findings, strict=True):
        heads = [th.content() for th in diagram.all("th", "thread")]
        assert heads == [name for _, name in columns(finding)]
        steps = diagram.all("tr", "step")
        assert len(steps) == len(finding.trace)
        violations = [tr for tr in steps if "violation" in tr.classes]
        assert len(violations) == 1
        assert steps[finding.trace.index(violating_step(finding))] is violations[0]
        for tr, step in zip(steps, finding.trace, strict=True):
            lanes = tr.all("td", "lane")
            assert len(lanes) == len(heads)
            active = [td for td in lanes if "active" in td.classes]
            assert len(active) == 1 and active[0].content() == step.op
    for section in sections:
        replay = section.all("pre", "replay-command")
        assert len(replay) == 1 and "--schedule '" in replay[0].content()
    acquires = [s.content() for s in doc.all("span", "acquire")]
    releases = [s.content() for s in doc.all("span", "release")]
    assert "down_write mmap_lock" in acquires and "up_write mmap_lock" in releases
    assert "mutex_lock i_mmap_rwsem" in acquires
    assert any(td.attrs.get("title", "").startswith("holds: ")
               for td in doc.all("td", "holding"))
    (outcomes,) = doc.all("table", "outcomes")
    labels = [tr.all("td")[1].content() for tr in outcomes.all("tr") if tr.all("td")]
    assert sorted(labels) == ["map_count=1", "map_count=2"]
    (diff,) = doc.all("pre", "diff")
    assert "Only under B (zap_vma_range@v2): 1" in diff.content()


@pytest.fixture(scope="module")
def page(runs: list[ScenarioRun], outcome_run: ScenarioRun,
         tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html(str(path), runs, outcomes=[outcome_run], diffs=[DIFF], title="report test")
    return path


def test_page_structure(page: Path, runs: list[ScenarioRun]) -> None:
    text = page.read_text()
    check_page(parse(text), runs)
    assert "<title>report test</title>" in text
    assert "map_count=2" in text and "Only under B (zap_vma_range@v2): 1" in text


def test_page_is_self_contained(page: Path) -> None:
    doc = parse(page.read_text())
    assert not doc.all("link") and not doc.all("iframe") and not doc.all("img")
    for node in doc.all():
        if node.tag == "script":
            assert "src" not in node.attrs
        for attr in ("src", "href"):
            value = node.attrs.get(attr, "")
            assert not value or value.startswith("#"), f"<{node.tag} {attr}={value!r}>"
    assert not re.search(r"url\((?!#)", page.read_text())


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI must check the HTML report in a "
                        "browser: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium): "
                    "the HTML report was not checked in a browser")
    return exe


def browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def console_lines(stderr: str) -> list[str]:
    """The page's console output and uncaught errors, as Chromium logs them to stderr."""
    return [line for line in stderr.splitlines()
            if ":CONSOLE" in line or "Uncaught" in line]


def test_console_capture_sees_page_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>")
    proc = browse(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console_lines(proc.stderr))


def test_report_in_a_headless_browser(page: Path, runs: list[ScenarioRun],
                                      tmp_path: Path) -> None:
    proc = browse(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == []
    dom = parse(proc.stdout)
    check_page(dom, runs)
    # the page script ran to its end: it titles every thread header
    assert all(th.attrs.get("title") == "click to highlight this thread"
               for th in dom.all("th", "thread"))

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = browse(page.as_uri(), tmp_path / "profile2", f"--screenshot={shot}",
                  "--window-size=1400,2000", "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 2000)
