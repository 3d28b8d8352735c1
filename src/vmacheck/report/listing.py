"""Text of ``vmacheck list``: one-line summaries that make sense with only the repository.

Summaries come from the scenarios' and the model functions' docstrings.  Those cite the
kernel (files, functions, commits) but some also cite the documents the project started
from ("spec §3.3", "seed 002", "S15"), which a reader of the repository does not have:
:func:`public_text` drops those references, or names what they stood for.
"""

from __future__ import annotations

import re
from typing import Any

_SEEDS = {
    "000": "Hansen's v2 binder shrinker patch",
    "001": "the review of Hansen's v2 binder shrinker patch",
    "002": "Hansen's series v2 3/5",
    "003": "Carlos Llamas' 2024 page-installation series",
}

_DROP = [
    re.compile(r"\s*\((?:spec|seed|S\d)[^()]*\)"),          # "(spec 1.4 #1)", "(S15)"
    re.compile(r";\s*spec\s*§?[\d.,\s#\-–\[\]A-Z]*(?=\))"),  # "(mm/vma.c; spec §3.3)"
    re.compile(r",?\s*spec\s*§[\d.,#\-–\s]*\d"),            # "spec §2.12" elsewhere
    re.compile(r"\s*\bS\d{1,2}\b(?! )"),                    # a bare "S15"
]


def public_text(text: str) -> str:
    """``text`` without references to documents outside the repository, and without
    reStructuredText markup, on one line."""
    text = " ".join(text.replace("``", "").split())
    for pattern in _DROP:
        text = pattern.sub("", text)

    def seed(m: re.Match[str]) -> str:
        name = _SEEDS.get(m.group(2), "a seed patch")
        return name[0].upper() + name[1:] if m.group(1)[0] == "S" else name

    text = re.sub(r"\b([Ss]eed) (\d{3})(?:'s)?", seed, text)
    return re.sub(r"\(\s*\)", "", text).strip()


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
