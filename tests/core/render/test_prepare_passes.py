"""prepare_volume in two passes on worker threads: per slab the block bounds of the voxels
themselves (quantised once, after; the value range is theirs), then the quantised slabs for
the upload.
The bounds equal those of the quantised volume to the bit (the quantisation is monotone), the
slabs come in order on the calling thread, and the threads change no number."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ownscan.core.render import _setup, prepare_volume
from ownscan.core.render._setup import _block_minmax, _quantise, each_slab
from ownscan.core.volume import Volume


@pytest.fixture
def small_slabs(monkeypatch):
    """Slabs of 600 voxels, so that a small test volume is many slabs (on several threads)."""
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 600)


def _volume(dtype: str, shape: tuple[int, int, int], seed: int = 3) -> Volume:
    """Noise over a few plateaus in ``dtype``, with values a quantisation step apart or closer
    (where a rounding off by one would show)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    base = np.where((z + y + x) % 7 < 3, 100.0, -250.0) + np.where(x > shape[2] // 2, 800, 0)
    if dtype.startswith("float"):
        v = base + rng.normal(0.0, 40.0, size=shape)
        v[tuple(s // 2 for s in shape)] += 1e-4  # two values closer than a quantisation step
        v[0, 0, 0] = v[tuple(s // 2 for s in shape)] - 2e-5
    else:
        info = np.iinfo(dtype)
        v = np.clip(base + rng.integers(-60, 61, size=shape), info.min, info.max)
    return Volume(voxels=v.astype(dtype), spacing=(0.8, 0.9, 1.1))


SHAPES = [(23, 18, 29), (9, 4, 4), (5, 31, 3), (1, 13, 17)]


@pytest.mark.parametrize("slab_voxels", [600, 3000, 1 << 20], ids=["1", "5", "whole"])
@pytest.mark.parametrize("dtype", ["int16", "uint8", "uint16", "int32", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bounds_of_the_voxels_equal_those_of_the_quantised_volume(
    monkeypatch, dtype, shape, slab_voxels
):
    # slabs of one slice or five (made whole blocks of 4 and 8 slices) and one slab in all
    monkeypatch.setattr(_setup, "SLAB_VOXELS", slab_voxels)
    vol = _volume(dtype, shape)
    prep = prepare_volume(vol)
    assert (prep.value_min, prep.value_max) == (float(vol.voxels.min()), float(vol.voxels.max()))
    # the reference: the whole volume quantised, then its bounds (main's way)
    whole = _quantise(vol.voxels, prep.value_min, prep.scale)
    lo, hi = _block_minmax(whole)
    np.testing.assert_array_equal(prep.block_min, lo)
    np.testing.assert_array_equal(prep.block_max, hi)
    np.testing.assert_array_equal(prep.data, whole)


@pytest.mark.usefixtures("small_slabs")
def test_a_constant_volume_has_one_bound():
    vol = Volume(voxels=np.full((7, 9, 10), -3, np.int16), spacing=(1.0, 1.0, 1.0))
    prep = prepare_volume(vol)
    assert (prep.value_min, prep.value_max) == (-3.0, -2.0)
    assert (prep.block_min == 0).all() and (prep.block_max == 0).all()


@pytest.mark.usefixtures("small_slabs")
@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_slabs_come_in_order_on_the_calling_thread_the_same_with_any_threads(monkeypatch, workers):
    monkeypatch.setattr(_setup, "WORKERS", workers)
    vol = _volume("int16", (41, 20, 22))
    got: list[tuple[int, np.ndarray]] = []
    caller = threading.get_ident()

    def on_slab(k0: int, q: np.ndarray) -> None:
        assert threading.get_ident() == caller  # where the GL context is current
        got.append((k0, q.copy()))

    prep = prepare_volume(vol, on_slab=on_slab)
    starts = [k0 for k0, _ in got]
    assert starts == sorted(starts) and starts[0] == 0
    assert sum(len(q) for _, q in got) == vol.shape[0]  # every slice once, no gap
    whole = _quantise(vol.voxels, prep.value_min, prep.scale)
    np.testing.assert_array_equal(np.concatenate([q for _, q in got]), whole)
    np.testing.assert_array_equal(prep.block_max, _block_minmax(whole)[1])
    assert not prep.materialised  # no whole quantised copy was kept
    again: list[tuple[int, np.ndarray]] = []
    each_slab(prep, lambda k0, q: again.append((k0, q.copy())))  # a prepared volume's upload
    assert [k0 for k0, _ in again] == starts
    np.testing.assert_array_equal(np.concatenate([q for _, q in again]), whole)


@pytest.mark.usefixtures("small_slabs")
def test_a_failing_slab_consumer_stops_the_pass_and_caches_nothing():
    vol = _volume("int16", (30, 20, 20))
    seen: list[int] = []

    def refuse(k0: int, q: np.ndarray) -> None:
        seen.append(k0)
        if len(seen) == 3:
            raise RuntimeError("no room")

    with pytest.raises(RuntimeError, match="no room"):
        prepare_volume(vol, on_slab=refuse)
    assert len(seen) == 3
    prep = prepare_volume(vol)  # made afresh, not a half-made one from the cache
    whole = _quantise(vol.voxels, prep.value_min, prep.scale)
    np.testing.assert_array_equal(prep.block_min, _block_minmax(whole)[0])
