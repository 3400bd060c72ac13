"""The gradient texture written slab by slab from elsewhere (the viewer's loader thread) holds
exactly what the GpuVolume computes itself, and is used only once complete."""

from __future__ import annotations

import numpy as np
import pytest
from test_memory import _ct

from ownscan.core.render import GpuVolume, _setup
from ownscan.core.render._setup import gradient_layout, gradient_slabs, gradient_texels


def _bytes(textures: list) -> list[bytes]:  # type: ignore[type-arg]
    return [t.read(alignment=1) for t in textures]


@pytest.mark.parametrize(
    ("max_texture", "shape", "grid"),
    [(None, (50, 36, 60), (1, 1, 1)), (40, (50, 36, 60), (1, 1, 1)), (20, (41, 18, 16), (1, 1, 2))],
    ids=["one brick", "the volume in bricks", "the gradient in bricks too"],
)
def test_streamed_gradient_equals_the_computed_one(
    gl_ctx, gl_check, monkeypatch, max_texture, shape, grid
):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)  # many slabs
    vol = _ct(shape)
    streamed = GpuVolume(gl_ctx, vol, max_texture=max_texture)
    computed = GpuVolume(gl_ctx, vol, max_texture=max_texture)
    try:
        p = streamed.prepared
        assert p is not None
        layout = gradient_layout(p)
        assert layout.factors == (2, 2, 2)
        # the gradient's own bricks: 41 slices (3 bricks of at most 20) -> 21 texel slices (2)
        assert tuple(len(g) for g in streamed.gradient_grid) == grid
        parts = list(gradient_slabs(layout, p.slab))
        assert len(parts) >= 3
        for z0, texels in parts[:-1]:
            assert streamed.write_gradient_slab(z0, texels)
        assert streamed._gradients is None  # incomplete: not served yet
        assert streamed.write_gradient_slab(*parts[-1])
        got = streamed.gradient_textures()
        want = computed.gradient_textures()
        assert len(got) == len(want) == grid[0] * grid[1] * grid[2]
        assert _bytes(got) == _bytes(want)
        whole = gradient_texels(p.data, layout)
        if max_texture is None:  # one brick: the whole gradient, texel for texel
            assert _bytes(got)[0] == whole.tobytes()
        else:  # each brick: its texels of the whole gradient (bricks overlap by one)
            for tex, ((i0, i1), (j0, j1), (k0, k1)) in zip(
                got, streamed._bricks(streamed.gradient_grid), strict=True
            ):
                want = whole[k0 : k1 + 1, j0 : j1 + 1, i0 : i1 + 1]
                assert tex.read(alignment=1) == np.ascontiguousarray(want).tobytes()
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
        layout = gradient_layout(p)
        parts = list(gradient_slabs(layout, p.slab))
        with pytest.raises(ValueError, match="expected 0"):
            gpu.write_gradient_slab(*parts[1])
        # texels of another layout (one per voxel) are refused, not written askew
        with pytest.raises(ValueError, match="gradient is 10x15x15 texels"):
            gpu.write_gradient_slab(0, np.zeros((2, 30, 30, 3), np.int8))
        gpu.write_gradient_slab(*parts[0])
        # not complete: the renderer's own use computes the whole gradient instead
        assert _bytes(gpu.gradient_textures()) == [gradient_texels(p.data, layout).tobytes()]
        assert gpu._gradient_partial is None  # the partial textures were released
    finally:
        gpu.release()


def test_a_gradient_over_the_budget_is_not_written(gl_ctx, gl_check):
    vol = _ct((16, 16, 16))
    # the volume (2 bytes per voxel) fits, with its 8x8x8 gradient texels (RGB8 snorm, padded
    # to 4 bytes each) not
    gpu = GpuVolume(gl_ctx, vol, memory_budget=2 * 16**3 + 4 * 8**3 - 1)
    try:
        texels = np.zeros((8, 8, 8, 3), np.int8)
        assert not gpu.write_gradient_slab(0, texels)
        assert gpu.gradient_textures() == []  # six fetches instead
        assert gpu.prepared is not None and gpu.prepared.volume is vol  # not averaged
    finally:
        gpu.release()
