"""The pure buffer bookkeeping (drivers/android/binder_alloc.c arithmetic)."""

from __future__ import annotations

from vmacheck.kernel.drivers.android import binder_buffers as bb

START = 0x10000
END = START + 4 * bb.PAGE_SIZE


def test_best_fit_split_and_lru_range() -> None:
    layout = bb.initial_layout(START)
    res = bb.new_buf_locked(layout, 100, END, 1, 100)
    assert res.buffer is not None and res.buffer.user_data == START
    assert [b.free for b in res.layout] == [False, True]
    assert res.lru_del == (START, START + bb.PAGE_SIZE)
    res2 = bb.new_buf_locked(res.layout, 104, END, 2, 104)
    # starts inside page 0, which the first buffer already took off the LRU
    assert res2.lru_del == (START + bb.PAGE_SIZE, START + bb.PAGE_SIZE)


def test_free_coalesces_and_adds_shared_page_once_free() -> None:
    layout = bb.initial_layout(START)
    a = bb.new_buf_locked(layout, 100, END, 1, 100)
    b = bb.new_buf_locked(a.layout, 100, END, 2, 100)
    assert a.buffer is not None and b.buffer is not None
    fa = bb.free_buf_locked(b.layout, a.buffer.user_data, END)
    assert fa.lru_add == ((START, START),)          # page 0 still shared with b
    fb = bb.free_buf_locked(fa.layout, b.buffer.user_data, END)
    assert len(fb.layout) == 1 and fb.layout[0].free
    assert (START, START + bb.PAGE_SIZE) in fb.lru_add


def test_no_space() -> None:
    res = bb.new_buf_locked(bb.initial_layout(START), 5 * bb.PAGE_SIZE, END, 1, 0)
    assert res.buffer is None and res.error == "-ENOSPC"
