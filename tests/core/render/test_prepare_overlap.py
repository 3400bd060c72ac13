"""The preparation's first pass (block bounds, and with them the value range) runs on worker
threads while the calling thread makes the texture's storage (``prepare_volume``'s
``meanwhile``), and the calling thread quantises queued slabs rather than wait for them."""

from __future__ import annotations

import threading

import pytest
from test_memory import _ct

from ownscan.core.render import _setup, prepare_volume


def test_meanwhile_runs_on_the_calling_thread_while_the_bounds_are_made(monkeypatch):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 600)  # many slabs
    monkeypatch.setattr(_setup, "WORKERS", 1)
    made = threading.Event()
    bounds = _setup._slab_bounds

    def noted(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.set()
        return bounds(*args, **kwargs)

    monkeypatch.setattr(_setup, "_slab_bounds", noted)
    caller = threading.get_ident()
    calls: list[bool] = []

    def meanwhile() -> None:
        assert threading.get_ident() == caller  # where the GL context is current
        calls.append(made.wait(60))  # a worker makes bounds while this runs (no deadlock)

    vol = _ct((30, 20, 22))
    prep = prepare_volume(vol, meanwhile=meanwhile)
    assert calls == [True]
    assert (prep.value_min, prep.value_max) == (vol.voxels.min(), vol.voxels.max())
    prepare_volume(vol, meanwhile=meanwhile)  # from the cache: nothing to overlap
    assert calls == [True]


def test_a_failing_meanwhile_stops_the_pass_and_caches_nothing(monkeypatch):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 600)
    vol = _ct((30, 20, 22))

    def refuse() -> None:
        raise MemoryError("no room")

    with pytest.raises(MemoryError, match="no room"):
        prepare_volume(vol, meanwhile=refuse)
    called: list[int] = []
    prepare_volume(vol, meanwhile=lambda: called.append(1))  # made afresh
    assert called == [1]


def test_the_calling_thread_makes_queued_slabs_rather_than_wait():
    from concurrent.futures import ThreadPoolExecutor

    caller = threading.get_ident()
    helped = threading.Event()
    where: dict[int, int] = {}

    def work(k: int) -> int:
        where[k] = threading.get_ident()
        if k == 0:  # the worker's first slab waits until the caller has made the next one
            helped.wait(30)
        if k == 1 and threading.get_ident() == caller:
            helped.set()
        return 10 * k

    with ThreadPoolExecutor(1) as pool:
        got = list(_setup._in_order(pool, work, range(6), 2, helps=True))
    assert got == [(k, 10 * k) for k in range(6)]  # in order, each once
    assert helped.is_set() and where[0] != caller and where[1] == caller
