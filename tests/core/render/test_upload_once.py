"""A GpuVolume of a volume not prepared before writes each quantised slab into its textures as
the preparation makes it (one quantisation pass, not two); the textures hold the same bytes as
when the volume was prepared beforehand (the viewer's loader does that) or kept whole."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_memory import _ct

from ownscan.core.render import GpuVolume, _setup, prepare_volume


@pytest.mark.parametrize("max_texture", [None, 40], ids=["one brick", "bricks in i and k"])
def test_fused_upload_writes_the_same_texels_with_one_pass(
    gl_ctx, gl_check, monkeypatch, max_texture
):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)  # many slabs
    calls: list[int] = []
    quantise = _setup._quantise

    def counted(voxels, vmin, scale):  # type: ignore[no-untyped-def]
        calls.append(voxels.shape[0])
        return quantise(voxels, vmin, scale)

    monkeypatch.setattr(_setup, "_quantise", counted)
    vol = _ct((41, 36, 50))
    fused = GpuVolume(gl_ctx, vol, max_texture=max_texture)
    assert sum(calls) == vol.shape[0]  # every slice quantised once, bounds and upload together
    other = replace(vol)  # another Volume object: prepared (and cached) before its upload
    prepare_volume(other, fused.limits, fused.memory_budget).data  # noqa: B018
    later = GpuVolume(gl_ctx, other, max_texture=max_texture)
    try:
        assert len(fused.textures) == len(later.textures) == (1 if max_texture is None else 4)
        for a, b in zip(fused.textures, later.textures, strict=True):
            assert a.read(alignment=1) == b.read(alignment=1)
        assert fused.prepared is not None and later.prepared is not None
        assert (fused.prepared.block_max == later.prepared.block_max).all()
    finally:
        fused.release()
        later.release()
