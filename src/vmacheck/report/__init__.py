"""Reports of exploration results, for people and for tools.

- :mod:`vmacheck.report.text`: kernel-splat shaped findings, verdict and outcome tables, diffs
- :mod:`vmacheck.report.html`: one self-contained HTML page with sequence diagrams
- :mod:`vmacheck.report.sarif`: SARIF 2.1.0 for code-scanning tools
- :mod:`vmacheck.report.jsonout`: versioned JSON with a checked-in JSON Schema

All of them render :class:`vmacheck.scenarios.catalogue.ScenarioRun` values; the kind-to-header
mapping they share is documented in :mod:`vmacheck.report._common`.
"""
