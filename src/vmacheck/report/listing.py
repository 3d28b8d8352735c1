"""Text of ``vmacheck list``: one-line summaries from the scenarios' and the model functions'
docstrings, which cite the kernel (files, functions, commits)."""

from __future__ import annotations

from typing import Any


def public_text(text: str) -> str:
    """``text`` on one line, without reStructuredText markup (double backquotes)."""
    return " ".join(text.replace("``", "").split())


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, whole."""
    if not doc:
        return ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


def version_summary(kfunc: Any, version: str) -> str:
    """The one-line summary of ``function@version``: its docstring's first sentence."""
    doc = first_sentence(getattr(kfunc.versions[version], "__doc__", None))
    return public_text(doc or kfunc.docs.get(version, ""))
