"""The published DPOR benchmark programs (see /work/shared/spec/dpor-benchmarks.md) as models.

Each builder takes the size ``n`` and returns a model (a zero-argument callable that builds
fresh shared state and returns the threads).  ``PROGRAMS`` lists, for each program, the sizes
with the number of Mazurkiewicz traces an optimal DPOR must explore.  Tests import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import vmacheck as vc

Model = Callable[[], Iterable[Any]]


def lastzero(n: int) -> Model:
    """Thread 0 scans ``a[n..0]`` for a zero; thread j copies ``a[j-1] + 1`` into ``a[j]``."""

    def model() -> list[Any]:
        a = [vc.Var(f"a[{i}]", 0) for i in range(n + 1)]

        async def scanner() -> None:
            i = n
            while await a[i].load() != 0:
                i -= 1
            vc.label(f"zero at {i}")

        async def writer(j: int) -> None:
            t = await a[j - 1].load()
            await a[j].store(t + 1)

        vc.outcome(lambda: "a=" + ",".join(str(v.peek()) for v in a))
        return [("scan", scanner())] + [(f"w{j}", writer(j)) for j in range(1, n + 1)]

    return model


def readers(n: int) -> Model:
    """One writer ``x := 42``; ``n`` readers each read ``x``."""

    def model() -> list[Any]:
        x = vc.Var("x", 0)

        async def write() -> None:
            await x.store(42)

        async def read(k: int) -> None:
            vc.label(f"r{k}={await x.load()}")

        return [("writer", write())] + [(f"r{k}", read(k)) for k in range(1, n + 1)]

    return model


INDEXER_SIZE = 128
INDEXER_MAX = 4


def indexer(n: int) -> Model:
    """``n`` threads insert ``INDEXER_MAX`` keys each into an open-addressing table by CAS."""

    def model() -> list[Any]:
        table = [vc.Var(f"table[{h}]", 0) for h in range(INDEXER_SIZE)]

        async def insert(tid: int) -> None:
            for m in range(INDEXER_MAX):
                w = m * 11 + tid
                h = (w * 7) % INDEXER_SIZE
                while not await table[h].cas(0, w):
                    h = (h + 1) % INDEXER_SIZE

        return [(f"t{tid}", insert(tid)) for tid in range(n)]

    return model


FS_INODES = 32
FS_BLOCKS = 26


def filesystem(n: int) -> Model:
    """``n`` threads each allocate a block for one inode under per-inode and per-block locks."""

    def model() -> list[Any]:
        inode = [vc.Var(f"inode[{i}]", 0) for i in range(FS_INODES)]
        busy = [vc.Var(f"busy[{b}]", False) for b in range(FS_BLOCKS)]
        locki = [vc.Mutex(f"locki[{i}]", lock_class="locki") for i in range(FS_INODES)]
        lockb = [vc.Mutex(f"lockb[{b}]", lock_class="lockb") for b in range(FS_BLOCKS)]

        async def thread(tid: int) -> None:
            i = tid % FS_INODES
            await locki[i].lock()
            if await inode[i].load() == 0:
                b = (2 * i) % FS_BLOCKS
                while True:
                    await lockb[b].lock()
                    if not await busy[b].load():
                        await busy[b].store(True)
                        await inode[i].store(b + 1)
                        await lockb[b].unlock()
                        break
                    await lockb[b].unlock()
                    b = (b + 1) % FS_BLOCKS
            await locki[i].unlock()

        return [(f"t{tid}", thread(tid)) for tid in range(n)]

    return model


def philosophers(n: int, ordered: bool = False) -> Model:
    """Dining philosophers: philosopher i takes forks i and i+1 (lower first if ``ordered``)."""

    def model() -> list[Any]:
        forks = [vc.Mutex(f"f[{i}]") for i in range(n)]

        async def phil(i: int) -> None:
            first, second = i, (i + 1) % n
            if ordered and first > second:
                first, second = second, first
            await forks[first].lock()
            await forks[second].lock()
            await forks[second].unlock()
            await forks[first].unlock()

        return [(f"p{i}", phil(i)) for i in range(n)]

    return model


def counter(n: int, locked: bool = False) -> Model:
    """``n`` threads each do ``t := x; x := t + 1``, inside one mutex if ``locked``."""

    def model() -> list[Any]:
        x = vc.Var("x", 0)
        m = vc.Mutex("m") if locked else None

        async def inc() -> None:
            if m is not None:
                await m.lock()
            t = await x.load()
            await x.store(t + 1)
            if m is not None:
                await m.unlock()

        vc.outcome(lambda: f"x={x.peek()}")
        return [(f"inc{k}", inc()) for k in range(n)]

    return model


def philosophers_ordered(n: int) -> Model:
    return philosophers(n, ordered=True)


def counter_locked(n: int) -> Model:
    return counter(n, locked=True)


# program name -> (builder, [(n, published trace count), ...]); "small" sizes run as tests
PROGRAMS: dict[str, tuple[Callable[[int], Model], list[tuple[int, int]]]] = {
    "lastzero": (lastzero, [(2, 5), (3, 12), (4, 28), (5, 64), (10, 3328)]),
    "readers": (readers, [(2, 4), (6, 64), (8, 256)]),
    "indexer": (indexer, [(11, 1), (12, 8), (15, 4096)]),
    "filesystem": (filesystem, [(13, 1), (14, 2), (16, 8)]),
    "philosophers-naive": (philosophers, [(2, 3), (3, 7), (4, 15)]),
    "philosophers-ordered": (philosophers_ordered, [(2, 2), (3, 6), (4, 14)]),
    "counter-unlocked": (counter, [(2, 4), (3, 36)]),
    "counter-locked": (counter_locked, [(2, 2), (3, 6)]),
}

# sizes too slow for the test suite (the benchmark runs them)
LARGE = {("lastzero", 10), ("indexer", 15)}


def cases(include_large: bool = True) -> list[tuple[str, int, int]]:
    """Every ``(program, n, published)`` row, in table order."""
    out = []
    for name, (_, sizes) in PROGRAMS.items():
        for n, published in sizes:
            if include_large or (name, n) not in LARGE:
                out.append((name, n, published))
    return out


def build(name: str, n: int) -> Model:
    return PROGRAMS[name][0](n)
