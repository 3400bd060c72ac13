"""The gradient made from the volume's own texture read back (core/render/_readback.py): the
R16 texels come back as written (any width, any slices), the gradient texture made from them
holds the very bytes it held when every slab was quantised again, its shaded picture is the
same to the bit, and the slabs are not quantised a second time. A volume in several textures,
or a GL that cannot read them back, keeps the quantising path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scenes import TF

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene
from ownscan.core.render import _gpu as gpu_module
from ownscan.core.render._readback import texture_reader
from ownscan.core.render._setup import PreparedVolume, gradient_layout, gradient_texels
from ownscan.core.render.phantom import ct_phantom

MODES = {m.name: m for m in PluginHost().modes()}


def test_the_texels_come_back_as_written(gl_ctx, gl_check):
    read = texture_reader(gl_ctx)
    assert read is not None  # Mesa's llvmpipe (GL 4.5): the path the first frame takes
    rng = np.random.default_rng(3)
    # an odd width: rows of 2 * 37 bytes, which a default pack alignment of 4 would pad
    want = rng.integers(0, 65536, (9, 11, 37), dtype=np.uint16)
    want[0, 0, :2] = (0, 65535)
    tex = gl_ctx.texture3d((37, 11, 9), 1, want.tobytes(), dtype="nu2", alignment=1)
    try:
        np.testing.assert_array_equal(read(tex, 0, 9), want)
        np.testing.assert_array_equal(read(tex, 4, 7), want[4:7])
        np.testing.assert_array_equal(read(tex, 8, 9), want[8:9])
    finally:
        tex.release()


def _gradient_bytes(vol, monkeypatch, readback: bool) -> tuple[list[bytes], int]:
    """The gradient textures' bytes of ``vol`` uploaded in a fresh renderer, read back from
    the volume's texture or not, and the number of slabs quantised meanwhile."""
    quantised = []
    slab = PreparedVolume.slab

    def counted(self, k0, k1):
        quantised.append((k0, k1))
        return slab(self, k0, k1)

    with monkeypatch.context() as m:
        m.setattr(PreparedVolume, "slab", counted)
        if not readback:
            m.setattr(gpu_module, "texture_reader", lambda ctx: None)
        gl = GLRenderer()
        try:
            gpu = gl.upload(dataclasses.replace(vol))  # a new Volume: prepared afresh
            before = len(quantised)
            with gl.ctx:  # current here only: upload makes it current around itself
                textures = gpu.gradient_textures()
                assert textures
                data = [t.read(alignment=1) for t in textures]
                want = gradient_texels(gpu.prepared.data, gradient_layout(gpu.prepared))
        finally:
            gl.close()
    assert data == [want.tobytes()] or len(data) > 1
    return data, len(quantised) - before


@pytest.mark.parametrize(
    "shape, spacing",
    [((41, 50, 46), (0.7, 0.7, 1.0)), ((23, 30, 33), (0.6, 0.6, 2.5)), ((70, 20, 19), (1, 1, 1))],
)
def test_the_gradient_read_back_holds_the_same_bytes(monkeypatch, shape, spacing):
    vol = ct_phantom(shape, spacing=spacing, seed=5)
    read_back, requantised = _gradient_bytes(vol, monkeypatch, readback=True)
    quantised, again = _gradient_bytes(vol, monkeypatch, readback=False)
    assert read_back == quantised
    assert requantised == 0 and again > 0  # no slab quantised a second time


def test_a_volume_in_several_textures_quantises_as_before(monkeypatch):
    vol = ct_phantom((40, 16, 16), spacing=(0.8, 0.8, 1.0), seed=6)
    gl = GLRenderer(max_texture=16)  # three bricks along k: not one texture to read
    try:
        gpu = gl.upload(vol)
        assert len(gpu.textures) > 1
        with gl.ctx:
            slab, here = gpu._gradient_source()
        assert not here and slab == gpu.prepared.slab
    finally:
        gl.close()


@pytest.mark.parametrize("mode", ["dvr", "iso"])
def test_the_shaded_picture_is_the_same_to_the_bit(monkeypatch, mode):
    vol = ct_phantom((60, 64, 64), spacing=(0.7, 0.7, 1.0), seed=9)
    pictures = []
    for readback in (True, False):
        with monkeypatch.context() as m:
            if not readback:
                m.setattr(gpu_module, "texture_reader", lambda ctx: None)
            own = dataclasses.replace(vol)  # a new Volume: prepared afresh
            if mode == "dvr":
                scene = Scene(own, MODES[mode], transfer_function=TF)
            else:
                scene = Scene(own, MODES[mode], parameters={"iso_value": 200.0})
            gl = GLRenderer()
            try:
                pictures.append(gl.render(scene, Camera(azimuth=30, elevation=20), (96, 80)))
            finally:
                gl.close()
    assert pictures[0].any()
    np.testing.assert_array_equal(pictures[0], pictures[1])
