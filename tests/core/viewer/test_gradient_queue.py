"""The bounded queue of gradient slabs between the series loader and the window
(``core/viewer/_gradient_queue.py``), with real threads: the producer waits at the limit and
wakes the consumer, goes on once the slabs are taken, and stops when cancelled."""

from __future__ import annotations

import threading

import numpy as np

from ownscan.core.viewer._gradient_queue import GradientQueue


def _slab(g0: int, nbytes: int = 1000) -> tuple[int, np.ndarray]:
    return g0, np.full(nbytes // 2, g0, dtype=np.uint16)


def _produce(q: GradientQueue, n: int, results: list[bool]) -> threading.Thread:
    def run() -> None:
        for g0 in range(n):
            results.append(q.put(_slab(g0)))
        q.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_the_producer_waits_at_the_limit_wakes_the_consumer_and_every_slab_arrives_in_order():
    wakes: list[int] = []
    q = GradientQueue(2500, wake=lambda: wakes.append(q.held_bytes))  # two slabs fit
    results: list[bool] = []
    producer = _produce(q, 20, results)
    taken: list[int] = []
    for _ in range(100):
        q.wait_full(30)  # the producer waits (or has ended): only then are slabs taken
        for g0, texels in q.take():
            assert int(texels[0]) == g0
            taken.append(g0)
        if len(taken) == 20:
            break
    producer.join(30)
    assert not producer.is_alive()
    assert taken == list(range(20)) and all(results)
    assert q.most_bytes <= 2500  # never more than the limit held
    assert q.waits == len(wakes) >= 9  # it waited (and woke the consumer) every third slab
    assert set(wakes) == {2000}  # each time with two slabs held
    assert q.held_bytes == 0


def test_a_slab_larger_than_the_limit_passes_alone():
    q = GradientQueue(10)
    assert q.put(_slab(0, 1000))  # an empty queue takes it
    results: list[bool] = []
    producer = _produce(q, 1, results)  # the next waits until the first is taken
    producer.join(0.2)
    assert producer.is_alive() and q.held_bytes == 1000
    assert [g0 for g0, _ in q.take()] == [0]
    producer.join(30)
    assert results == [True] and [g0 for g0, _ in q.take()] == [0]


def test_cancel_ends_the_wait_and_refuses_more():
    wakes: list[int] = []
    q = GradientQueue(1500, wake=lambda: wakes.append(1))
    results: list[bool] = []
    producer = _produce(q, 5, results)  # nobody takes: it waits at the second slab
    q.wait_full(30)
    assert producer.is_alive() and results == [True] and wakes == [1]
    q.cancel()
    producer.join(30)
    assert not producer.is_alive()  # a dropped load does not wait for ever
    assert results == [True, False, False, False, False]
    assert q.take() == [] and wakes == [1]  # no wake after the cancel


def test_without_a_limit_nothing_waits():
    q = GradientQueue(None, wake=lambda: (_ for _ in ()).throw(AssertionError("woken")))
    for g0 in range(50):
        assert q.put(_slab(g0))
    assert q.waits == 0 and q.held_bytes == 50 * 1000
    assert [g0 for g0, _ in q.take()] == list(range(50))
