"""A texture the GL refuses (GL_OUT_OF_MEMORY) is never sampled: without storage it would
read as garbage and draw a wrong picture.

llvmpipe refuses a 3D texture of more than about 1.6 GiB (measured: 512x512x800 RGB16, padded
to 8 bytes per voxel, 1.56 GiB, is made; 512x512x900, 1.76 GiB, is refused), well inside the
2 GiB budget, so a 512x512x900 volume's precomputed gradient is refused there and the shaders
must take six fetches per gradient, as over the budget."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import TF

from ownscan.core.bench._suite import available_bytes
from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene
from ownscan.core.render._gpu import gradient_fits
from ownscan.core.volume import Volume

MODES = {m.name: m for m in PluginHost().modes()}
SHAPE = (900, 512, 512)  # (nz, ny, nx): int16 450 MiB; its gradient texture 1.76 GiB


def _big_ct() -> Volume:
    """Air with a soft-tissue box holding a bony core: cheap to make, shaded by dvr."""
    v = np.full(SHAPE, -1000, np.int16)
    v[100:800, 80:430, 60:450] = 40
    v[300:600, 180:330, 160:350] = 900
    return Volume(voxels=v, spacing=(0.7, 0.7, 1.0), modality="CT")


@pytest.mark.skipif(available_bytes() < 6 << 30, reason="needs about 3 GiB of free memory")
def test_a_refused_gradient_texture_is_not_sampled(gl_ctx, gl_check):
    vol = _big_ct()
    renderer = GLRenderer(ctx=gl_ctx)
    try:
        gpu = renderer.upload(vol)
        assert gpu.prepared is not None and gradient_fits(gpu.prepared, gpu.memory_budget)
        gradients = gpu.gradient_textures()
        assert gl_ctx.error == "GL_NO_ERROR"  # a refusal was read, not left pending
        if "llvmpipe" in renderer.renderer_string:
            assert gradients == []  # refused there (see the module's docstring)
        scene = Scene(vol, MODES["dvr"], transfer_function=TF)
        camera = Camera(azimuth=30, elevation=20)
        picture = renderer.render(scene, camera, (64, 48))
        assert picture[..., :3].std() > 5
        if not gradients:  # the six-fetch program: as a budget the gradient does not fit
            small = GLRenderer(ctx=gl_ctx, memory_budget=6 * vol.voxels.size)
            try:
                assert small.upload(vol).gradient_textures() == []
                np.testing.assert_array_equal(small.render(scene, camera, (64, 48)), picture)
            finally:
                small.close()
    finally:
        renderer.close()
