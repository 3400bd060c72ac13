"""The gradient texture written slab by slab from elsewhere (the viewer's loader thread) holds
exactly what the GpuVolume computes itself, and is used only once complete."""

from __future__ import annotations

import numpy as np
import pytest
from test_memory import _ct

from ownscan.core.render import GpuVolume, _setup
from ownscan.core.render._setup import gradient_slabs, gradient_texels


def _bytes(textures: list) -> list[bytes]:  # type: ignore[type-arg]
    return [t.read(alignment=1) for t in textures]


@pytest.mark.parametrize("max_texture", [None, 40], ids=["one brick", "bricks in i and k"])
def test_streamed_gradient_equals_the_computed_one(gl_ctx, gl_check, monkeypatch, max_texture):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)  # many slabs
    vol = _ct((50, 36, 60))
    streamed = GpuVolume(gl_ctx, vol, max_texture=max_texture)
    computed = GpuVolume(gl_ctx, vol, max_texture=max_texture)
    try:
        p = streamed.prepared
        assert p is not None
        nx, ny, nz = p.dims
        parts = list(gradient_slabs((nz, ny, nx), p.slab))
        assert len(parts) > 3
        for z0, texels in parts[:-1]:
            assert streamed.write_gradient_slab(z0, texels)
        assert streamed._gradients is None  # incomplete: not served yet
        assert streamed.write_gradient_slab(*parts[-1])
        got = streamed.gradient_textures()
        want = computed.gradient_textures()
        assert len(got) == len(want) == len(streamed.textures)
        assert _bytes(got) == _bytes(want)
        if max_texture is None:  # one brick: the whole gradient, texel for texel
            whole = gradient_texels(p.data)
            assert _bytes(got)[0] == whole.tobytes()
        assert not streamed.write_gradient_slab(0, parts[0][1])  # made already: ignored
    finally:
        streamed.release()
        computed.release()


def test_a_slab_out_of_order_is_refused(gl_ctx, gl_check, monkeypatch):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)
    vol = _ct((20, 30, 30))
    gpu = GpuVolume(gl_ctx, vol)
    try:
        p = gpu.prepared
        assert p is not None
        nx, ny, nz = p.dims
        parts = list(gradient_slabs((nz, ny, nx), p.slab))
        with pytest.raises(ValueError, match="expected 0"):
            gpu.write_gradient_slab(*parts[1])
        gpu.write_gradient_slab(*parts[0])
        # not complete: the renderer's own use computes the whole gradient instead
        assert _bytes(gpu.gradient_textures()) == [gradient_texels(p.data).tobytes()]
        assert gpu._gradient_partial is None  # the partial textures were released
    finally:
        gpu.release()


def test_a_gradient_over_the_budget_is_not_written(gl_ctx, gl_check):
    vol = _ct((16, 16, 16))
    gpu = GpuVolume(gl_ctx, vol, memory_budget=8 * 16**3 - 1)
    try:
        texels = np.zeros((16, 16, 16, 3), np.uint16)
        assert not gpu.write_gradient_slab(0, texels)
        assert gpu.gradient_textures() == []  # six fetches instead
        assert gpu.prepared is not None and gpu.prepared.volume is vol  # not averaged
    finally:
        gpu.release()
