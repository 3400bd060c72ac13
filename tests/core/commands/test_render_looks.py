"""Default looks of the 3D modes (issue 15): MIP and X-ray windows from the projection's own
values, MinIP over a slab, out-of-volume planes refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ownscan.core.cli import main


def _render(tmp_path, capsys, *argv: str) -> tuple[np.ndarray, str]:
    out = tmp_path / "x.png"
    assert main(["render", "--sample", "-o", str(out), "--size", "96x96", *argv]) == 0
    err = capsys.readouterr().err
    return np.asarray(Image.open(out))[..., 0].astype(int), err


def test_head_mip_keeps_the_brain_grey_and_the_vessels_white(tmp_path, capsys):
    img, _ = _render(tmp_path, capsys, "--mode", "mip")
    head = img > 20
    white = (img >= 250)[head].mean()
    assert head.mean() > 0.3
    assert 0.0 < white < 0.05  # only the vessels are white
    # the volume's slice window (its 1st..99th percentile: 0..75), as MIP used before
    old, _ = _render(tmp_path, capsys, "--mode", "mip", "--window", "75", "--level", "37.5")
    assert (old >= 250)[old > 20].mean() > 3 * white  # an explicit window still wins


def test_head_xray_is_not_dim(tmp_path, capsys):
    img, _ = _render(tmp_path, capsys, "--mode", "xray")
    head = img > 10
    old, _ = _render(tmp_path, capsys, "--mode", "xray", "--window", "75", "--level", "37.5")
    assert head.mean() > 0.3 and img[head].mean() > 1.5 * old[head].mean()
    assert img[head].mean() > 70 and (img >= 250).mean() < 0.01


@pytest.mark.parametrize("backend", ["gl", "cpu"])
def test_minip_is_a_slab_by_default_and_says_so(tmp_path, capsys, backend):
    img, err = _render(tmp_path, capsys, "--mode", "minip", "--backend", backend)
    assert "minip over a 10 mm slab through the centre" in err
    assert (img > 40).mean() > 0.15  # brain and scalp, not black air
    whole, err = _render(tmp_path, capsys, "--mode", "minip", "--slab", "0", "--backend", backend)
    assert "slab" not in err
    assert (whole > 40).mean() < 0.02  # every ray through the head meets air: black


def test_slab_minip_gl_and_arrays_agree(tmp_path, capsys):
    gl, _ = _render(tmp_path, capsys, "--mode", "minip", "--backend", "gl", "--slab", "6")
    cpu, _ = _render(tmp_path, capsys, "--mode", "minip", "--backend", "cpu", "--slab", "6")
    diff = np.abs(gl - cpu)
    assert diff.max() <= 3 and (diff > 2).mean() <= 0.001


def test_projection_window_spans_the_projected_values():
    from ownscan.core.render._autowindow import projection_window
    from ownscan.core.render.phantom import sphere_volume

    v = sphere_volume()
    w = projection_window(v, "maximum")
    lo, hi = w.level - w.width / 2, w.level + w.width / 2
    assert lo <= float(v.voxels.min()) + 1e-3 and hi <= float(v.voxels.max()) + 1e-3
    with pytest.raises(ValueError, match="how must be"):
        projection_window(v, "median")


def test_ray_offsets_are_a_fixed_spread_of_starts():
    from ownscan.core.render._array import ray_offsets

    off = ray_offsets(64, 48)
    assert off.shape == (64 * 48,) and off.dtype == np.float32
    assert float(off.min()) >= 0.0 and float(off.max()) < 1.0
    assert abs(float(off.mean()) - 0.5) < 0.02  # spread evenly over the step
    hist = np.histogram(off, bins=8, range=(0, 1))[0]
    assert hist.min() > 0.7 * hist.mean()
    # neighbours differ: no planes of equal start (what made the wood grain)
    grid = off.reshape(48, 64)
    assert np.abs(np.diff(grid, axis=1)).mean() > 0.2
    assert np.array_equal(off, ray_offsets(64, 48))  # the same on every frame


@pytest.mark.parametrize("mode", ["dvr", "iso"])
def test_jittered_modes_agree_between_gl_and_arrays_and_are_stable(tmp_path, capsys, mode):
    import dataclasses

    from ownscan.core.plugin_host import get_host

    assert get_host().mode(mode).jitter
    assert not dataclasses.replace(get_host().mode("mpr")).jitter
    gl, _ = _render(tmp_path, capsys, "--mode", mode, "--backend", "gl")
    again, _ = _render(tmp_path, capsys, "--mode", mode, "--backend", "gl")
    cpu, _ = _render(tmp_path, capsys, "--mode", mode, "--backend", "cpu")
    assert np.array_equal(gl, again)
    diff = np.abs(gl - cpu)
    assert diff.max() <= 3 and (diff > 2).mean() <= 0.001


@pytest.mark.parametrize("texture", [False, True], ids=["six-fetches", "gradient-texture"])
def test_surface_normal_is_the_gradient_of_the_interpolated_field_in_lps(texture):
    """A field linear in LPS on an oblique, anisotropic grid: trilinear interpolation is exact
    there, so the normal both renderers shade with (central differences of the interpolated
    field, carried to LPS) must point along the field's true gradient."""
    from ownscan.core.plugin_host import get_host
    from ownscan.core.render import ArrayContext, Camera, Scene, frame_for, prepare_volume
    from ownscan.core.volume import Volume

    c, s = np.cos(0.5), np.sin(0.5)
    direction = np.array([[c, -s, 0.0], [s * 0.8, c * 0.8, 0.6], [-s * 0.6, -c * 0.6, 0.8]])
    direction /= np.linalg.norm(direction, axis=0)
    a = np.array([0.3, -0.5, 0.8])  # the field's gradient in LPS (per mm)
    shape = (24, 32, 28)
    v = Volume(np.zeros(shape, np.int16), spacing=(0.8, 1.1, 2.0), direction=direction)
    k, j, i = np.indices(shape)
    lps = v.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3))
    v.voxels[...] = np.rint(2000 + 40 * (lps @ a)).reshape(shape).astype(np.int16)
    prepared = prepare_volume(v)
    scene = Scene(v, get_host().mode("iso"), parameters={"iso_value": 2000.0})
    ctx = ArrayContext(np, prepared, frame_for(prepared, scene, Camera(), (8, 8)))
    ctx.gradient_texture = texture
    rng = np.random.default_rng(0)
    pos = rng.uniform(0.2, 0.8, size=(200, 3)).astype(np.float32)  # away from the faces
    g = ctx.gradient_lps(pos)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip(g @ (a / np.linalg.norm(a)), -1, 1)))
    assert angle.max() < 2.0, angle.max()
