"""A texture the GL refuses (GL_OUT_OF_MEMORY) is never sampled: without storage it would
read as garbage and draw a wrong picture.

llvmpipe refuses a 3D texture of more than about 1.6 GiB (measured: 512x512x800 RGB16, padded
to 8 bytes per voxel, 1.56 GiB, is made; 512x512x900, 1.76 GiB, is refused), well inside the
2 GiB budget. A 512x512x900 volume's gradient at one texel per voxel was refused there (the
shaders then took 26 fetches per gradient); its compact gradient (one texel per 2x2x2 voxels,
225 MiB padded) is made, read back without a pending GL error, and sampled. Since the compact
layout a gradient texture is at most half the size of its volume's R16 texture, so llvmpipe
refuses the volume (averaged down, see docs/RENDER.md) before it could refuse the gradient;
the refusal branch stays for GPUs that run out of memory."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import TF

from ownscan.core.bench._suite import available_bytes
from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene
from ownscan.core.render._gpu import gradient_fits
from ownscan.core.render._setup import gradient_layout
from ownscan.core.volume import Volume

MODES = {m.name: m for m in PluginHost().modes()}
SHAPE = (900, 512, 512)  # (nz, ny, nx): int16 450 MiB; its compact gradient 256x256x450


def _big_ct() -> Volume:
    """Air with a soft-tissue box holding a bony core: cheap to make, shaded by dvr."""
    v = np.full(SHAPE, -1000, np.int16)
    v[100:800, 80:430, 60:450] = 40
    v[300:600, 180:330, 160:350] = 900
    return Volume(voxels=v, spacing=(0.7, 0.7, 1.0), modality="CT")


@pytest.mark.skipif(available_bytes() < 6 << 30, reason="needs about 3 GiB of free memory")
def test_a_deep_volumes_compact_gradient_is_made_and_sampled(gl_ctx, gl_check):
    vol = _big_ct()
    renderer = GLRenderer(ctx=gl_ctx)
    try:
        gpu = renderer.upload(vol)
        assert gpu.prepared is not None and gradient_fits(gpu.prepared, gpu.memory_budget)
        assert gradient_layout(gpu.prepared).texel_dims == (256, 256, 450)
        gradients = gpu.gradient_textures()
        assert gl_ctx.error == "GL_NO_ERROR"  # a refusal would have been read, not left pending
        assert len(gradients) == 1  # made (the full-resolution one was refused on llvmpipe)
        scene = Scene(vol, MODES["dvr"], transfer_function=TF)
        camera = Camera(azimuth=30, elevation=20)
        picture = renderer.render(scene, camera, (64, 48))
        assert picture[..., :3].std() > 5
        # without room for it: 26 fetches per gradient, the same opacities, nearly the same
        # shading (test_surface_shading)
        small = GLRenderer(ctx=gl_ctx, memory_budget=2 * vol.voxels.size)
        try:
            assert small.upload(vol).gradient_textures() == []
            fetched = small.render(scene, camera, (64, 48))
        finally:
            small.close()
        np.testing.assert_array_equal(fetched[..., 3], picture[..., 3])
        diff = np.abs(fetched[..., :3].astype(int) - picture[..., :3].astype(int))
        assert diff.mean() < 2.0, diff.mean()
    finally:
        renderer.close()
