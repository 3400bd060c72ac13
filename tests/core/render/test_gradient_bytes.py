"""The compact gradient in one signed byte per axis (core/render/_gradient.py, _snorm.py): the
encoding's rule against a plain float64 one, what a decoded texel means (the gradient per voxel
as the 16-bit texel had it, within half a byte step; the direction kept where a long vector
is shortened), the GL texture's format and bytes (RGB8_SNORM, the very texels), and the
shaded pictures of GL and the arrays within the GL-vs-arrays bound, oblique volume included."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest
from gl_support import assert_same_picture
from scenes import TF, oblique_ct

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene
from ownscan.core.render._gradient import (
    FULL_BYTE,
    FULL_SCALE,
    SHADE_GAIN,
    GradientLayout,
    encode_texels,
    sobel_gradient,
)
from ownscan.core.render._setup import gradient_layout, gradient_texels
from ownscan.core.render.phantom import ct_phantom

MODES = {m.name: m for m in PluginHost().modes()}


def _plain(h: np.ndarray) -> np.ndarray:
    """The encoding's rule in float64: shortened to 127 along the vector, rounded half up."""
    n = np.linalg.norm(h, axis=-1, keepdims=True)
    h = np.where(n > FULL_BYTE, h * (FULL_BYTE / np.maximum(n, 1e-300)), h)
    return np.floor(h + 0.5)


def test_the_bytes_follow_the_rule_and_keep_the_direction():
    rng = np.random.default_rng(11)
    # short and long vectors, single axes, ties at .5, zero
    h = np.concatenate(
        [
            rng.normal(0, 30, (4000, 3)),
            rng.normal(0, 3000, (4000, 3)),
            [[0, 0, 0], [0.5, -0.5, 2.5], [126.9, 0, 0], [0, -500, 0], [90, 90, 0]],
        ]
    ).astype(np.float32)
    out = np.empty(h.shape, np.int8)
    encode_texels(h.copy(), out)
    want = _plain(h.astype(np.float64))
    # float32 against float64: a byte apart at most, where a value lies on a .5 boundary
    assert np.abs(out.astype(int) - want).max() <= 1
    assert (out.astype(int) == want).mean() > 0.999
    assert out.min() >= -FULL_BYTE and out.max() <= FULL_BYTE
    np.testing.assert_array_equal(
        out[-5:], [[0, 0, 0], [1, 0, 3], [127, 0, 0], [0, -127, 0], [90, 90, 0]]
    )
    # a long vector keeps its direction (within what whole bytes at length 127 allow)
    long = np.linalg.norm(h, axis=-1) > 2 * FULL_BYTE
    a, b = h[long].astype(np.float64), out[long].astype(np.float64)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.7
    assert np.abs(np.linalg.norm(b, axis=-1) - FULL_BYTE).max() < 1.0


@pytest.mark.parametrize("spacing", [(0.7, 0.7, 1.0), (0.5, 0.5, 2.5)])
def test_a_decoded_texel_is_the_gradient_per_voxel(spacing):
    """Within half a byte step of the exact Sobel value where the vector is short; at full
    shading weight, in the same direction, where it was shortened."""
    rng = np.random.default_rng(4)
    # blocks of random values (strong edges) beside a gentle ramp with noise (weak gradients)
    blocks = rng.integers(0, 65536, size=(5, 6, 4)).repeat(4, 0).repeat(4, 1).repeat(4, 2)
    q = np.empty((20, 24, 28), np.uint16)
    q[..., :16] = blocks
    q[..., 16:] = 20000 + np.arange(12) * 150 + rng.integers(0, 400, size=(20, 24, 12))
    layout = GradientLayout.of((28, 24, 20), spacing)
    units = np.asarray(layout.units)
    exact = sobel_gradient(q, 0, 0, layout.texel_dims[2], layout) / np.asarray(layout.scales)
    exact = exact.astype(np.float64) / 65535  # the 16-bit texel's gradient per voxel
    got = gradient_texels(q, layout).astype(np.float64) / FULL_BYTE * units
    per_mm = np.asarray(spacing, np.float64)
    length = np.linalg.norm(exact / per_mm, axis=-1) * SHADE_GAIN  # its shading weight, unclamped
    short = length < FULL_SCALE * 0.99
    long = length > FULL_SCALE * 1.01
    assert short.sum() > 100 and long.sum() > 100
    step = units / FULL_BYTE  # one byte, per axis
    assert (np.abs(got[short] - exact[short]) <= step / 2 + 1e-9).all()
    # shortened: shaded fully all the same, in the same direction
    g = got[long] / per_mm
    e = exact[long] / per_mm
    assert (np.linalg.norm(g, axis=-1) * SHADE_GAIN >= 1).all()
    cos = (g * e).sum(-1) / np.linalg.norm(g, axis=-1) / np.linalg.norm(e, axis=-1)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0


def _internal_format(tex) -> int:
    """GL_TEXTURE_INTERNAL_FORMAT of a 3D texture (bound on moderngl's spare unit)."""
    lib = ctypes.CDLL(ctypes.util.find_library("OpenGL") or ctypes.util.find_library("GL"))
    fn = lib.glGetTexLevelParameteriv
    fn.argtypes = [ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ctypes.c_int)]
    tex.use(tex.ctx.default_texture_unit)
    v = ctypes.c_int()
    fn(0x806F, 0, 0x1003, ctypes.byref(v))  # GL_TEXTURE_3D, GL_TEXTURE_INTERNAL_FORMAT
    return v.value


def test_the_gl_texture_holds_the_texels_in_three_signed_bytes(gl_renderer, gl_check):
    vol = ct_phantom((30, 34, 38), spacing=(0.7, 0.7, 1.0), seed=8)
    gpu = gl_renderer.upload(vol)
    (tex,) = gpu.gradient_textures()
    layout = gradient_layout(gpu.prepared)
    mx, my, mz = layout.texel_dims
    assert tex.size == (mx, my, mz) and tex.components == 3
    assert _internal_format(tex) == 0x8F96  # GL_RGB8_SNORM: 3 bytes a texel (4 padded)
    back = np.frombuffer(tex.read(alignment=1), np.int8).reshape(mz, my, mx, 3)
    want = gradient_texels(gpu.prepared.data.reshape(vol.shape), layout)
    np.testing.assert_array_equal(back, want)
    assert (want < 0).any() and (want > 0).any()


@pytest.mark.parametrize("camera", [Camera(azimuth=25, elevation=15), Camera(azimuth=-140)])
def test_gl_and_arrays_shade_an_oblique_volume_alike(
    gl_renderer, array_renderer, gl_check, tmp_path, camera
):
    """Byte steps per mm along every axis, carried to LPS by the oblique volume's matrix: GL
    (snorm texels filtered in float) and the arrays agree within the GL-vs-arrays bound."""
    vol = oblique_ct()
    scene = Scene(vol, MODES["dvr"], transfer_function=TF)
    a = gl_renderer.render(scene, camera, (96, 88))
    assert gl_renderer.upload(vol).gradient_textures()  # drawn with the texture
    b = array_renderer.render(scene, camera, (96, 88))
    assert (a[..., 3] > 0).mean() > 0.05 and a[..., :3].std() > 5
    assert_same_picture(a, b, tmp_path, "oblique-bytes")


def test_without_signed_textures_the_gradient_is_fetched(gl_renderer, gl_check, monkeypatch):
    """A GL that cannot make RGB8_SNORM 3D textures: no texture (never unsigned bytes read as
    signed), the 26-fetch gradient instead, and a picture all the same."""
    from ownscan.core.render import _gpu

    monkeypatch.setattr(_gpu, "snorm_texture3d", lambda ctx, size: None)
    vol = ct_phantom((26, 22, 24), spacing=(1.0, 1.0, 1.0), seed=9)
    scene = Scene(vol, MODES["dvr"], transfer_function=TF)
    a = gl_renderer.render(scene, Camera(azimuth=30), (64, 64))
    assert gl_renderer.upload(vol).gradient_textures() == []
    assert (a[..., 3] > 0).mean() > 0.05
