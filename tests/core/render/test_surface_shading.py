"""Shaded surfaces are smooth where the object is: no "wood grain" from the voxel grid.

A smooth ellipsoid sampled with a one-voxel partial-volume edge (as a scanner's point spread
gives) is drawn in iso and shaded dvr, by GL and by the arrays; the shaded picture's
high-frequency energy (what is left after a light blur, over the surface away from its outline)
must stay low. Central differences one voxel apart and a single linear step to the hit (the
code before the Sobel gradient) drew rings following the slices: 2.5-5x the bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene, TransferFunction, prepare_volume
from ownscan.core.render._gpu import gradient_fits
from ownscan.core.render._setup import gradient_layout
from ownscan.core.volume import Volume

pytestmark = pytest.mark.usefixtures("gl_check")

MODES = {m.name: m for m in PluginHost().modes()}
SIZE = (192, 192)
CAMERA = Camera(azimuth=30, elevation=20, zoom=2.0)
# the surface at the ellipsoid's edge: opaque above half its value
SURFACE = TransferFunction(
    "surface", [(0, 0.9, 0.85, 0.75, 0.0), (450, 0.9, 0.85, 0.75, 0.0), (550, 0.9, 0.85, 0.75, 1.0)]
)
HF_BOUND = 1.0  # grey levels (RMS); measured: about 0.5 now, 2.4-4.8 with the old gradient


def ellipsoid(spacing: tuple[float, float, float] = (1.0, 1.0, 1.5)) -> Volume:
    """Semi-axes 40 x 36 x 50 mm, 0 outside and 1000 inside, a linear ramp over 1 mm at the
    edge (the distance to the surface approximated along the normal)."""
    nx, ny, nz = 96, 96, 80
    k, j, i = np.mgrid[:nz, :ny, :nx].astype(np.float64)
    x = (i - (nx - 1) / 2) * spacing[0]
    y = (j - (ny - 1) / 2) * spacing[1]
    z = (k - (nz - 1) / 2) * spacing[2]
    r = np.sqrt((x / 40) ** 2 + (y / 36) ** 2 + (z / 50) ** 2)
    edge = np.clip((1 - r) * 40 + 0.5, 0, 1)
    origin = tuple(-(n - 1) / 2 * s for n, s in zip((nx, ny, nz), spacing, strict=True))
    return Volume(np.rint(1000 * edge).astype(np.int16), spacing, origin, modality="CT")


def _blur(g: np.ndarray) -> np.ndarray:
    """Binomial [1, 4, 6, 4, 1] / 16 along both axes (edges repeated)."""
    k = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16
    for axis in (0, 1):
        p = np.pad(g, [(2, 2) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        g = sum(w * np.take(p, np.arange(o, o + g.shape[axis]), axis=axis) for o, w in enumerate(k))
    return g


def high_frequency(image: np.ndarray) -> float:
    """RMS (grey levels) of the picture minus its blur, over the object shrunk by 6 pixels
    (the outline itself is a true edge)."""
    grey = image[..., :3].astype(np.float64).mean(axis=-1)
    inside = image[..., 3] > 0
    for _ in range(6):
        inside = inside & np.roll(inside, 1, 0) & np.roll(inside, -1, 0)
        inside = inside & np.roll(inside, 1, 1) & np.roll(inside, -1, 1)
    assert inside.mean() > 0.2, "the surface fills the picture"
    return float(np.sqrt(((grey - _blur(grey))[inside] ** 2).mean()))


@pytest.mark.parametrize("mode", ["iso", "dvr"])
@pytest.mark.parametrize("backend", ["gl", "cpu"])
def test_a_smooth_surface_is_shaded_smoothly(gl_renderer, array_renderer, tmp_path, mode, backend):
    vol = ellipsoid()
    parameters = {"iso_value": 500.0} if mode == "iso" else {}
    scene = Scene(vol, MODES[mode], transfer_function=SURFACE, parameters=parameters)
    renderer = gl_renderer if backend == "gl" else array_renderer
    image = renderer.render(scene, CAMERA, SIZE)
    hf = high_frequency(image)
    from PIL import Image

    Image.fromarray(image[..., :3]).save(tmp_path / f"{mode}-{backend}.png")
    assert hf < HF_BOUND, f"{mode} {backend}: high-frequency energy {hf:.2f} (see {tmp_path})"
    # and it is shaded (a flat picture would pass the bound): the headlight's falloff
    grey = image[..., :3].astype(np.float64).mean(axis=-1)[image[..., 3] > 0]
    assert grey.max() - np.percentile(grey, 5) > 60


def test_the_gradient_texture_and_the_26_fetches_draw_nearly_the_same_picture(gl_ctx, tmp_path):
    """Shaded dvr reads the compact Sobel texels (the gradient of 2x2x2 block means) when they
    fit the memory budget, else the full-resolution Sobel gradient from 26 volume fetches: the
    same opacities (the gradient shades, it never decides what is seen), shading within a few
    grey levels, and the texture's a little smoother (measured: 0.45 against 0.71 grey levels
    of high frequencies, at most 12 levels apart, 0.8 on average)."""
    vol = ellipsoid()
    scene = Scene(vol, MODES["dvr"], transfer_function=SURFACE)
    prepared = prepare_volume(vol)
    layout = gradient_layout(prepared)
    assert layout.factors == (2, 2, 2)  # 1 x 1 x 1.5 mm: every axis halved
    r16 = vol.voxels.size * 2
    with_texture = GLRenderer(ctx=gl_ctx)
    # R16 fits, the gradient (RGB8 snorm, 4 bytes per texel padded) not
    without = GLRenderer(ctx=gl_ctx, memory_budget=r16 + 4 * layout.texels - 1)
    try:
        assert gradient_fits(prepared, with_texture.memory_budget)
        assert not gradient_fits(prepared, without.memory_budget)
        a = with_texture.render(scene, CAMERA, SIZE)
        b = without.render(scene, CAMERA, SIZE)
        assert with_texture.upload(vol).gradient_textures()
        assert without.upload(vol).gradient_textures() == []  # it really took the fetches
    finally:
        with_texture.close()
        without.close()
    from PIL import Image

    Image.fromarray(np.concatenate([a, b], axis=1)[..., :3]).save(tmp_path / "texture-fetches.png")
    assert (a[..., 3] > 0).mean() > 0.2
    np.testing.assert_array_equal(a[..., 3], b[..., 3])
    diff = np.abs(a[..., :3].astype(int) - b[..., :3].astype(int))
    assert diff.max() <= 16 and diff.mean() < 1.5, (diff.max(), diff.mean(), tmp_path)
    assert high_frequency(a) <= high_frequency(b)


def test_the_chest_phantoms_surface_has_no_voxel_staircase(gl_renderer, tmp_path):
    """``render --phantom --mode iso``: the body wall is an elliptic cylinder; with hard-edged
    organs its shaded surface showed the voxel staircase as vertical stripes (12 grey levels
    RMS of high frequencies on main, 6.9 with the Sobel gradient alone; 2.2 with partial
    volume at the edges)."""
    from ownscan.core.render import view_from_options
    from ownscan.core.render.phantom import ct_phantom

    vol = ct_phantom()
    scene, camera = view_from_options(vol, {"mode": "iso"})
    image = gl_renderer.render(scene, camera, (512, 512))
    from PIL import Image

    Image.fromarray(image[..., :3]).save(tmp_path / "phantom-iso.png")
    hf = high_frequency(image)
    assert hf < 4.0, f"high-frequency energy {hf:.2f} (see {tmp_path})"
    # partial volume: the fat-to-muscle edge has values between the two along a row
    row = vol.voxels[vol.shape[0] // 2, vol.shape[1] // 2].astype(float)
    between = (row > -70) & (row < 10)  # fat -100, muscle 40, noise 12 HU
    assert between.sum() >= 2
