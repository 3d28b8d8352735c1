"""A parser for the kernel's C litmus format (``tools/memory-model/litmus-tests/*.litmus``).

A test is ``C NAME``, an optional quoted description and ``(* comments *)``, an initial state
``{ x=1; int *p=&y; }``, processes ``P0(int *x, int *y) { ... }`` and a final condition
``exists (0:r0=1 /\\ y=2)`` (also ``~exists`` and ``forall``).  Process bodies may contain
register declarations, ``READ_ONCE``/``WRITE_ONCE``, ``smp_load_acquire``/
``smp_store_release``, ``rcu_dereference``/``rcu_assign_pointer``, ``xchg``/``cmpxchg`` and
the ``atomic_*`` operations in their relaxed, acquire, release and fully ordered forms, the
barriers, ``rcu_read_lock``/``rcu_read_unlock``/``synchronize_rcu`` and ``spin_lock``/
``spin_unlock``.  Anything else raises :class:`LitmusError` naming the construct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Stmt = tuple[Any, ...]


class LitmusError(ValueError):
    """A test the parser cannot read: the message names the construct."""


@dataclass(frozen=True, slots=True)
class Thread:
    index: int
    params: tuple[str, ...]
    locks: tuple[str, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Litmus:
    name: str
    init: dict[str, Any]
    threads: tuple[Thread, ...]
    quantifier: str
    condition: Any
    condition_text: str
    comments: str

    def variables(self) -> list[str]:
        names = set(self.init)
        for t in self.threads:
            names.update(p for p in t.params if p not in t.locks)
        return sorted(names)

    def locks(self) -> list[str]:
        return sorted({lk for t in self.threads for lk in t.locks})


LOADS = {"READ_ONCE": "once", "smp_load_acquire": "acquire", "rcu_dereference": "rcu",
         "atomic_read": "once", "atomic_read_acquire": "acquire"}
STORES = {"WRITE_ONCE": "once", "smp_store_release": "release", "rcu_assign_pointer": "rcu",
          "atomic_set": "once", "atomic_set_release": "release"}
FENCES = {"smp_mb": "mb", "smp_rmb": "rmb", "smp_wmb": "wmb", "smp_mb__before_atomic": "mb",
          "smp_mb__after_atomic": "mb", "smp_mb__after_spinlock": "mb"}
RCU = {"rcu_read_lock": "lock", "rcu_read_unlock": "unlock", "synchronize_rcu": "sync"}
_ORDER_SUFFIX = {"": "mb", "_relaxed": "relaxed", "_acquire": "acquire", "_release": "release"}
# name -> (operation, argument layout): v = the variable, i = an operand
_RMW_BASE = {
    "xchg": ("xchg", "vi"), "cmpxchg": ("cmpxchg", "vii"),
    "atomic_xchg": ("xchg", "vi"), "atomic_cmpxchg": ("cmpxchg", "vii"),
    "atomic_add_return": ("add_return", "iv"), "atomic_sub_return": ("sub_return", "iv"),
    "atomic_inc_return": ("inc_return", "v"), "atomic_dec_return": ("dec_return", "v"),
    "atomic_fetch_add": ("fetch_add", "iv"), "atomic_fetch_sub": ("fetch_sub", "iv"),
    "atomic_fetch_inc": ("fetch_inc", "v"), "atomic_fetch_dec": ("fetch_dec", "v"),
}
RMWS = {f"{base}{suffix}": (op, layout, mode)
        for base, (op, layout) in _RMW_BASE.items()
        for suffix, mode in _ORDER_SUFFIX.items()}
RMWS.update({"atomic_add": ("add", "iv", "relaxed"), "atomic_sub": ("sub", "iv", "relaxed"),
             "atomic_inc": ("inc", "v", "relaxed"), "atomic_dec": ("dec", "v", "relaxed")})

_IDENT = r"[A-Za-z_]\w*"


def parse(text: str) -> Litmus:
    """Parse a litmus test; :class:`LitmusError` on anything unsupported."""
    comments = " ".join(re.findall(r"\(\*(.*?)\*\)", text, re.S))
    text = re.sub(r"\(\*.*?\*\)", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    m = re.match(r"\s*C\s+(\S+)", text)
    if m is None:
        raise LitmusError("not a C litmus test: the first line must be 'C NAME'")
    name = m.group(1)
    rest = text[m.end():]
    rest = re.sub(r'^\s*"[^"]*"', " ", rest)
    m = re.match(r"\s*\{(.*?)\}", rest, re.S)
    if m is None:
        raise LitmusError("missing the initial state block '{ ... }'")
    init = _parse_init(m.group(1))
    rest = rest[m.end():]
    threads: list[Thread] = []
    while True:
        m = re.match(r"\s*P(\d+)\s*\(([^)]*)\)\s*\{", rest)
        if m is None:
            break
        body, end = _block(rest, m.end())
        params, locks = _params(m.group(2))
        threads.append(Thread(int(m.group(1)), params, locks, tuple(_body(body, params))))
        rest = rest[end:]
    if not threads:
        raise LitmusError("no processes 'P0(...) { ... }' found")
    if [t.index for t in threads] != list(range(len(threads))):
        raise LitmusError("processes must be numbered P0, P1, ... in order")
    rest = rest.strip()
    rest = re.sub(r"^locations\s*\[[^\]]*\]\s*", "", rest)
    m = re.match(r"(~\s*exists|exists|forall)\s*(.*)$", rest, re.S)
    if m is None:
        word = rest.split()[0] if rest else "end of file"
        raise LitmusError(f"unsupported construct: {word!r} (expected an exists clause)")
    quant = re.sub(r"\s+", "", m.group(1))
    cond_text = " ".join(m.group(2).split())
    return Litmus(name, init, tuple(threads), quant, _Cond(cond_text).parse(), cond_text,
                  comments)


def _block(text: str, start: int) -> tuple[str, int]:
    depth = 1
    i = start
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i], i + 1
        i += 1
    raise LitmusError("unbalanced braces in a process body")


def _parse_init(block: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in block.split(";"):
        item = item.strip()
        if not item:
            continue
        m = re.fullmatch(rf"(?:(?:int|intptr_t|atomic_t|spinlock_t)\s*\**\s*)?\**\s*({_IDENT})"
                         r"\s*(?:=\s*(.+))?", item)
        if m is None:
            raise LitmusError(f"unsupported construct in the initial state: {item!r}")
        value = m.group(2)
        out[m.group(1)] = 0 if value is None else _literal(value.strip())
    return out


def _literal(text: str) -> Any:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = re.fullmatch(rf"&?\s*({_IDENT})", text)
    if m is None:
        raise LitmusError(f"unsupported construct: initial value {text!r}")
    return m.group(1)


def _params(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    params: list[str] = []
    locks: list[str] = []
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        m = re.fullmatch(rf"(.*?)\**\s*({_IDENT})", p)
        if m is None:
            raise LitmusError(f"unsupported construct: parameter {p!r}")
        params.append(m.group(2))
        if "spinlock_t" in m.group(1):
            locks.append(m.group(2))
    return tuple(params), tuple(locks)


def _body(text: str, params: tuple[str, ...]) -> list[Stmt]:
    out: list[Stmt] = []
    for raw in text.split(";"):
        s = " ".join(raw.split())
        if not s:
            continue
        if "{" in s or "}" in s or re.match(r"(if|while|for|do|switch|goto)\b", s):
            word = re.match(r"\w+", s)
            what = word.group(0) if word else repr(s)
            raise LitmusError(f"unsupported construct: {what}")
        out.extend(_stmt(s))
    return out


def _stmt(s: str) -> list[Stmt]:
    m = re.fullmatch(rf"(?:int|intptr_t|unsigned long|long)\s*(\**)\s*({_IDENT})"
                     r"\s*(?:=\s*(.+))?", s)
    if m is not None:
        out: list[Stmt] = [("decl", m.group(2))]
        if m.group(3) is not None:
            out.extend(_assign(m.group(2), m.group(3)))
        return out
    m = re.fullmatch(rf"({_IDENT})\s*=\s*(.+)", s)
    if m is not None:
        return _assign(m.group(1), m.group(2))
    return [_call(s, None)]


def _assign(reg: str, rhs: str) -> list[Stmt]:
    if re.fullmatch(rf"{_IDENT}\s*\(.*\)", rhs):
        return [_call(rhs, reg)]
    return [("assign", reg, _expr(rhs))]


def _call(s: str, reg: str | None) -> Stmt:
    m = re.fullmatch(rf"({_IDENT})\s*\((.*)\)", s)
    if m is None:
        raise LitmusError(f"unsupported construct: {s!r}")
    fn, argtext = m.group(1), m.group(2).strip()
    args = [a.strip() for a in argtext.split(",")] if argtext else []
    if fn in LOADS and len(args) == 1 and reg is not None:
        return ("load", reg, LOADS[fn], _addr(args[0]))
    if fn in STORES and len(args) == 2 and reg is None:
        return ("store", STORES[fn], _addr(args[0]), _expr(args[1]))
    if fn in FENCES and not args and reg is None:
        return ("fence", FENCES[fn])
    if fn in RCU and not args and reg is None:
        return ("rcu", RCU[fn])
    if fn in ("spin_lock", "spin_unlock") and len(args) == 1 and reg is None:
        return ("spin", fn[5:], _addr(args[0])[1])
    if fn in RMWS:
        op, layout, mode = RMWS[fn]
        if len(args) != len(layout):
            raise LitmusError(f"unsupported construct: {fn} with {len(args)} arguments")
        addr = _addr(args[layout.index("v")])
        operands = tuple(_expr(a) for a, k in zip(args, layout, strict=True) if k == "i")
        return ("rmw", reg, op, mode, addr, operands)
    raise LitmusError(f"unsupported construct: {fn}")


def _addr(text: str) -> tuple[str, str]:
    """``*x``, ``x`` or ``&x``: the location named by a parameter or held by a register."""
    m = re.fullmatch(rf"[*&]?\s*({_IDENT})", text)
    if m is None:
        raise LitmusError(f"unsupported construct: address {text!r}")
    return ("loc", m.group(1))


def _expr(text: str) -> Any:
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return ("int", int(text))
    m = re.fullmatch(rf"&?\s*({_IDENT})", text)
    if m is not None:
        return ("name", m.group(1))
    m = re.fullmatch(rf"({_IDENT})\s*([+-])\s*(\d+)", text)
    if m is not None:
        return ("add", m.group(1), int(m.group(3)) * (1 if m.group(2) == "+" else -1))
    raise LitmusError(f"unsupported construct: expression {text!r}")


class _Cond:
    """The final condition: atoms ``P:reg=value`` or ``var=value``, ``/\\``, ``\\/``, ``~``."""

    def __init__(self, text: str) -> None:
        self.toks = re.findall(r"/\\|\\/|~|\(|\)|[\w:]+\s*!?=\s*&?[\w-]+|\S", text)
        self.i = 0

    def parse(self) -> Any:
        if not self.toks:
            raise LitmusError("empty exists clause")
        out = self._or()
        if self.i != len(self.toks):
            raise LitmusError(f"unsupported construct in the condition: {self.toks[self.i]!r}")
        return out

    def _peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "\\/":
            self.i += 1
            left = ("or", left, self._and())
        return left

    def _and(self) -> Any:
        left = self._not()
        while self._peek() == "/\\":
            self.i += 1
            left = ("and", left, self._not())
        return left

    def _not(self) -> Any:
        tok = self._peek()
        if tok == "~":
            self.i += 1
            return ("not", self._not())
        if tok == "(":
            self.i += 1
            inner = self._or()
            if self._peek() != ")":
                raise LitmusError("unbalanced parentheses in the condition")
            self.i += 1
            return inner
        if tok is None:
            raise LitmusError("the condition ends early")
        m = re.fullmatch(r"(?:(\d+):)?(\w+)\s*(!?=)\s*&?([\w-]+)", tok)
        if m is None:
            raise LitmusError(f"unsupported construct in the condition: {tok!r}")
        self.i += 1
        value: Any = int(m.group(4)) if re.fullmatch(r"-?\d+", m.group(4)) else m.group(4)
        thread = int(m.group(1)) if m.group(1) is not None else None
        return ("atom", thread, m.group(2), m.group(3) == "!=", value)
