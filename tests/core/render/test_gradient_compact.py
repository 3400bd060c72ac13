"""The compact gradient texture (core/render/_gradient.py): which axes are halved, its texels
against the definition computed the plain way, slab by slab with the halo equal to the whole,
the texel-centre mapping of odd sizes, and GL drawing with it what the arrays draw on an
anisotropic volume of odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
from gl_support import assert_same_picture
from scenes import TF

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import ArrayContext, Camera, Scene, _setup, frame_for
from ownscan.core.render import prepare_volume as prepare
from ownscan.core.render._gradient import (
    GradientLayout,
    encode_texels,
    gradient_factors,
    sobel_gradient,
)
from ownscan.core.render._setup import gradient_layout, gradient_slabs, gradient_texels
from ownscan.core.render.phantom import ct_phantom

MODES = {m.name: m for m in PluginHost().modes()}


@pytest.mark.parametrize(
    ("dims", "spacing", "factors"),
    [
        ((512, 512, 300), (0.7, 0.7, 1.0), (2, 2, 2)),  # CT: 1.43x the finest, halved
        ((384, 384, 274), (0.667, 0.667, 0.7), (2, 2, 2)),  # the head MR
        ((512, 512, 60), (0.5, 0.5, 2.5), (2, 2, 1)),  # thick slices keep their resolution
        ((96, 96, 80), (1.0, 1.0, 1.5), (2, 2, 2)),  # 1.5x: halved
        ((96, 96, 80), (1.0, 1.0, 1.5000001), (2, 2, 2)),  # ... whatever the float noise
        ((256, 256, 128), (1.4, 1.4, 2.5), (2, 2, 1)),  # 1.8x: kept
        ((64, 64, 40), (0.9, 0.9, 2.0), (2, 2, 1)),  # 2x: kept
        ((70, 24, 24), (12.0, 10.0, 4.0), (1, 1, 2)),  # only the finest axis is halved
        ((512, 512, 15), (0.7, 0.7, 0.7), (2, 2, 1)),  # 15 slices: too few to halve
        ((1, 1, 1), (1.0, 1.0, 1.0), (1, 1, 1)),
    ],
)
def test_which_axes_are_halved(dims, spacing, factors):
    assert gradient_factors(dims, spacing) == factors
    layout = GradientLayout.of(dims, spacing)
    assert layout.texel_dims == tuple(-(-n // f) for n, f in zip(dims, factors, strict=True))


def _sobel(q: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """The module's definition, the plain way: block sums with clamped voxel indices, then per
    texel the Sobel sum over its 26 neighbours (clamped block indices) and its value ``v``
    (the gradient per voxel, q units, before the texel's encoding)."""
    nz, ny, nx = q.shape
    fi, fj, fk = factors
    mx, my, mz = -(-nx // fi), -(-ny // fj), -(-nz // fk)
    a = np.zeros((mz, my, mx), np.int64)
    for dk in range(fk):
        for dj in range(fj):
            for di in range(fi):
                kk = np.minimum(np.arange(mz) * fk + dk, nz - 1)
                jj = np.minimum(np.arange(my) * fj + dj, ny - 1)
                ii = np.minimum(np.arange(mx) * fi + di, nx - 1)
                a += q[np.ix_(kk, jj, ii)].astype(np.int64)
    out = np.zeros((mz, my, mx, 3), np.int64)
    k, j, i = np.meshgrid(np.arange(mz), np.arange(my), np.arange(mx), indexing="ij")
    divisors = [32 * fi * fj * fk * f for f in (fi, fj, fk)]
    for oc in (-1, 0, 1):
        for ob in (-1, 0, 1):
            for oa in (-1, 0, 1):
                v = a[
                    np.clip(k + oc, 0, mz - 1),
                    np.clip(j + ob, 0, my - 1),
                    np.clip(i + oa, 0, mx - 1),
                ]
                wa, wb, wc = 2 - abs(oa), 2 - abs(ob), 2 - abs(oc)
                out[..., 0] += oa * wb * wc * v
                out[..., 1] += ob * wa * wc * v
                out[..., 2] += oc * wa * wb * v
    for axis, d in enumerate(divisors):
        out[..., axis] = np.floor_divide(out[..., axis], d)
    return out


def _reference(q: np.ndarray, layout: GradientLayout) -> np.ndarray:
    """The RGB8 snorm texels of :func:`_sobel`'s values: times the layout's scales (float32), then
    ``encode_texels`` (whose own rule test_gradient_bytes.py checks against float64)."""
    h = _sobel(q, layout.factors).astype(np.float32) * np.asarray(layout.scales, np.float32)
    out = np.empty(h.shape, np.int8)
    encode_texels(h, out)
    return out


LAYOUTS = [
    ((13, 17, 19), (2, 2, 2)),  # (nz, ny, nx): odd along every axis
    ((16, 18, 20), (2, 2, 2)),
    ((9, 16, 21), (2, 2, 1)),
    ((18, 33, 7), (1, 2, 2)),
    ((1, 16, 17), (2, 2, 1)),
    ((3, 4, 5), (1, 1, 1)),
]


@pytest.mark.parametrize(("shape", "factors"), LAYOUTS, ids=str)
def test_texels_are_the_sobel_gradient_of_the_block_means(shape, factors):
    rng = np.random.default_rng(7)
    q = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    q[..., : shape[2] // 2] //= 97  # a dark half beside a bright one: large differences
    q.flat[0], q.flat[-1] = 0, 65535
    nz, ny, nx = shape
    layout = GradientLayout((nx, ny, nz), factors, (50.0, 60.0, 40.0))  # few shortened
    got = gradient_texels(q, layout)
    assert got.dtype == np.int8 and got.shape == (*layout.texel_dims[::-1], 3)
    np.testing.assert_array_equal(got, _reference(q, layout))
    v = sobel_gradient(q, 0, 0, layout.texel_dims[2], layout)
    scales = np.asarray(layout.scales, np.float32)
    np.testing.assert_array_equal(v, _sobel(q, factors).astype(np.float32) * scales)


def test_a_full_range_step_stays_in_range():
    """Blocks of 0 beside blocks of 65535: the gradient at both signs; the texels at both ends
    of the byte, never wrapped."""
    q = np.zeros((4, 4, 8), dtype=np.uint16)
    q[..., 4:] = 65535
    layout = GradientLayout((8, 4, 4), (2, 2, 2))
    c = np.float32(layout.scales[0])
    up = sobel_gradient(q, 0, 0, 2, layout)[..., 0]
    down = sobel_gradient(q[..., ::-1].copy(), 0, 0, 2, layout)[..., 0]
    # per voxel: the block means differ by 65535 two blocks (4 voxels) apart, smoothed: 1/4
    assert up.max() == np.float32(65535 // 4) * c and down.min() == np.float32(-65535 // 4) * c
    assert gradient_texels(q, layout)[..., 0].max() == 127
    assert gradient_texels(q[..., ::-1].copy(), layout)[..., 0].min() == -127


@pytest.mark.parametrize(("shape", "factors"), LAYOUTS, ids=str)
def test_slabs_with_their_halo_are_the_whole(monkeypatch, shape, factors):
    """Slab by slab (each with the neighbouring block on either side) the texels are the
    whole-volume ones, and a slab reads only the slices it needs."""
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 1)  # one texel slice per slab
    rng = np.random.default_rng(3)
    q = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    nz, ny, nx = shape
    layout = GradientLayout((nx, ny, nz), factors, (0.5, 0.7, 2.0))
    read: list[tuple[int, int]] = []

    def slab(k0: int, k1: int) -> np.ndarray:
        read.append((k0, k1))
        assert 0 <= k0 < k1 <= nz
        return q[k0:k1].copy()

    parts = list(gradient_slabs(layout, slab))
    mz = layout.texel_dims[2]
    assert [g0 for g0, _ in parts] == list(range(mz))
    np.testing.assert_array_equal(np.concatenate([t for _, t in parts]), _reference(q, layout))
    fk = factors[2]
    assert all(k1 - k0 <= 3 * fk for k0, k1 in read)  # a slab and one block either side


def test_the_array_renderer_reads_each_texel_at_its_blocks_centre():
    """The texel-centre mapping (``gradient_tex`` in common.glsl), odd sizes included: at the
    centre of block t the trilinear sample is texel t itself, the last (half-empty) block too."""
    vol = ct_phantom((21, 19, 17), spacing=(1.0, 1.0, 1.0), seed=2)
    prepared = prepare(vol)
    layout = gradient_layout(prepared)
    assert layout.factors == (2, 2, 2) and layout.texel_dims == (9, 10, 11)
    scene = Scene(vol, MODES["dvr"], transfer_function=TF)
    ctx = ArrayContext(np, prepared, frame_for(prepared, scene, Camera(), (4, 4)))
    ctx.gradient_texture = True
    texels = gradient_texels(prepared.data, layout).astype(np.float64) / 127
    texels *= np.asarray(layout.units)  # the gradient per voxel, normalised
    mx, my, mz = layout.texel_dims
    t = np.stack(np.meshgrid(np.arange(mx), np.arange(my), np.arange(mz), indexing="ij"), -1)
    t = t.reshape(-1, 3)
    centre = 2 * t + 0.5  # voxel index of block t's centre
    pos = ((centre + 0.5) / np.asarray(prepared.dims)).astype(np.float32)
    got = ctx._gradient_texels(pos)
    want = texels[t[:, 2], t[:, 1], t[:, 0]]
    np.testing.assert_allclose(got, want, atol=2e-6)


@pytest.mark.parametrize("camera", [Camera(azimuth=30, elevation=20), Camera(azimuth=-110)])
def test_gl_and_arrays_shade_an_anisotropic_odd_volume_alike(
    gl_renderer, array_renderer, gl_check, tmp_path, camera
):
    """2 mm slices beside 0.8 mm pixels (the slices kept, the pixels halved), odd along every
    axis: GL samples the compact texture where the arrays do (same bounds as GL vs arrays)."""
    vol = ct_phantom((23, 45, 41), spacing=(0.8, 0.8, 2.0), seed=5)
    prepared = prepare(vol)
    assert gradient_layout(prepared).factors == (2, 2, 1)
    scene = Scene(vol, MODES["dvr"], transfer_function=TF)
    a = gl_renderer.render(scene, camera, (96, 80))
    gradients = gl_renderer.upload(vol).gradient_textures()
    assert [g.size for g in gradients] == [(21, 23, 23)]
    b = array_renderer.render(scene, camera, (96, 80))
    assert (a[..., 3] > 0).mean() > 0.05 and a[..., :3].std() > 5
    assert_same_picture(a, b, tmp_path, "anisotropic-odd")
