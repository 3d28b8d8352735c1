"""Kernel-style C litmus tests run by the explorer (``vmacheck litmus FILE``)."""

from vmacheck.litmus.parser import Litmus, LitmusError, parse
from vmacheck.litmus.runtime import Verdict, run

__all__ = ["Litmus", "LitmusError", "Verdict", "parse", "run"]
