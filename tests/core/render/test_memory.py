"""Memory on the render path: no whole-volume copy on the host beyond what a renderer samples.

tracemalloc sees numpy's allocations, so its peak is the host memory the code under test took
(the GL driver's own texture memory is not counted: on llvmpipe that is one more copy)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scenes import TF

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import ArrayRenderer, Camera, GLRenderer, Scene, _setup, prepare_volume
from ownscan.core.render._setup import (
    _block_minmax,
    gradient_layout,
    gradient_slabs,
    gradient_texels,
)
from ownscan.core.volume import Volume

MODES = {m.name: m for m in PluginHost().modes()}


@pytest.fixture
def small_slabs(monkeypatch):
    """Slabs of 4096 voxels, so that a small test volume is many slabs."""
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)


def _ct(shape: tuple[int, int, int]) -> Volume:
    """An int16 CT-like volume: air around a noisy body with a bright core."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    r2 = ((y - shape[1] / 2) / (shape[1] / 2.4)) ** 2 + ((x - shape[2] / 2) / (shape[2] / 2.4)) ** 2
    rng = np.random.default_rng(5)
    v = np.where(r2 < 1.0, 40, -1000) + rng.integers(-20, 20, size=shape)
    v = np.where(r2 < 0.1, 900, v) + 0 * z
    return Volume(voxels=v.astype(np.int16), spacing=(1.0, 1.0, 1.0))


def _peak(run) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_slabs_give_the_same_numbers_as_the_whole_copy(small_slabs):
    vol = _ct((23, 40, 36))
    prep = prepare_volume(vol)
    assert not prep.materialised  # preparing alone makes no whole quantised copy
    lo, hi = prep.block_min.copy(), prep.block_max.copy()
    whole = prep.data
    assert prep.materialised and whole.dtype == np.uint16
    np.testing.assert_array_equal(prep.slab(5, 17), whole[5:17])
    # bounds from slabs (before data existed) are the whole-array ones
    wlo, whi = _block_minmax(whole)
    np.testing.assert_array_equal(lo, wlo)
    np.testing.assert_array_equal(hi, whi)
    # gradients slab by slab are the whole-array ones, slab edges included
    layout = gradient_layout(prep)
    full = gradient_texels(whole, layout)
    got = np.concatenate([t for _, t in gradient_slabs(layout, prep.slab)])
    np.testing.assert_array_equal(got, full)


@pytest.mark.parametrize("mode", ["mip", "dvr"])
def test_gl_render_holds_no_second_copy_of_the_volume(gl_ctx, gl_check, small_slabs, mode):
    vol = _ct((64, 64, 64))  # 64 slabs
    renderer = GLRenderer(ctx=gl_ctx)
    try:
        # a first picture of another volume: imports and shader compilation are not measured
        renderer.render(Scene(_ct((8, 8, 8)), MODES[mode], transfer_function=TF), Camera(), (8, 8))
        scene = Scene(vol, MODES[mode], transfer_function=TF)
        peak = _peak(lambda: renderer.render(scene, Camera(azimuth=30), (32, 32)))
        gpu = renderer.upload(vol)
        assert gpu.prepared is not None and not gpu.prepared.materialised
        if mode == "dvr":
            assert gpu.gradient_textures()  # the compact gradient was uploaded
    finally:
        renderer.close()
    # slab temporaries and small tables only: no whole uint16 (1x), float32 (2x) or gradient
    assert peak < 0.75 * vol.nbytes, f"{peak / vol.nbytes:.2f}x the volume"


def test_array_render_holds_one_quantised_copy(small_slabs):
    vol = _ct((64, 64, 64))
    renderer = ArrayRenderer(prefer_gpu=False)
    renderer.render(Scene(_ct((8, 8, 8)), MODES["mip"]), Camera(), (8, 8))  # imports
    scene = Scene(vol, MODES["mip"])
    peak = _peak(lambda: renderer.render(scene, Camera(), (24, 24)))
    # the uint16 copy it samples (1x) and slab temporaries, no float copy (2x)
    assert vol.nbytes <= peak < 1.6 * vol.nbytes, f"{peak / vol.nbytes:.2f}x the volume"
