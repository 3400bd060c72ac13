"""The transfer-function table corrected for the sampling step on the CPU (``step_lut``): the
ray-casters composite its opacity as it is instead of ``1 - (1 - alpha) ** step`` per sample.
The table equals the per-sample correction within a bound for every preset, dvr draws the same
picture as the per-sample correction did (the GL-vs-array bounds), and a ray's opacity does not
depend on the step."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from gl_support import assert_same_picture
from scenes import TF, small_ct

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene, TransferFunction, frame_for, prepare_volume
from ownscan.core.render._array import cast_rays
from ownscan.core.render._setup import step_lut, to_uint8
from ownscan.core.volume import Volume, WindowPreset

HOST = PluginHost()
MODES = {m.name: m for m in HOST.modes()}
CT_WINDOW = WindowPreset("soft", 400.0, 40.0)


def _interpolate(lut: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The table read at normalised ``value`` as GL's LINEAR filter and ArrayContext.transfer
    read it: linear between entries ``e / 255``."""
    x = np.clip(value * 255.0, 0, 255)
    i0 = np.floor(x).astype(np.int64)
    f = (x - i0)[:, None]
    return lut[i0] * (1 - f) + lut[np.minimum(i0 + 1, 255)] * f


def test_step_lut_is_the_opacity_of_one_step():
    rng = np.random.default_rng(3)
    lut = rng.random((256, 4)).astype(np.float32)
    lut[:40, 3] = 0.0  # transparent entries
    lut[200:, 3] = 1.0  # opaque ones
    lut[100, 3] = 1.5  # out of range: treated as opaque, as the shader's min(alpha, 1) did
    for step in (0.35, 0.7, 1.0, 2.5):
        out = step_lut(lut, step)
        assert out.dtype == np.float32 and out.shape == (256, 4)
        assert np.array_equal(out[:, :3], lut[:, :3])  # colours unchanged
        a = np.minimum(lut[:, 3].astype(np.float64), 1.0)
        np.testing.assert_allclose(out[:, 3], 1 - (1 - a) ** step, rtol=1e-6, atol=1e-7)
        # zero stays exactly zero (the skip tables and visible range read alpha > 0)
        assert np.array_equal(out[:, 3] > 0, lut[:, 3] > 0)
        assert np.all(out[200:, 3] == 1.0) and out[100, 3] == 1.0
    assert np.array_equal(step_lut(lut, 1.0)[lut[:, 3] <= 1, 3], lut[lut[:, 3] <= 1, 3])
    # a longer step is more opaque, a shorter one less
    mid = (lut[:, 3] > 0) & (lut[:, 3] < 1)
    assert np.all(step_lut(lut, 2.0)[mid, 3] > lut[mid, 3])
    assert np.all(step_lut(lut, 0.5)[mid, 3] < lut[mid, 3])


@pytest.mark.parametrize("tf", [*HOST.transfer_functions(), TF], ids=lambda tf: tf.name)
@pytest.mark.parametrize("step", [0.35, 0.7, 1.4, 2.5])
def test_corrected_table_equals_the_per_sample_correction(tf: TransferFunction, step: float):
    lut = tf.lut(-1024.0, 3071.0, CT_WINDOW)
    values = np.linspace(0.0, 1.0, 200_001)
    per_sample = 1 - (1 - np.minimum(_interpolate(lut.astype(np.float64), values)[:, 3], 1)) ** step
    table = _interpolate(step_lut(lut, step).astype(np.float64), values)[:, 3]
    # between two entries, pow of the interpolation vs interpolation of pow: a second-order
    # difference, below a level of the picture (1 / 255) for every preset (at most 0.0022, for
    # ct-vessels' steep ramp at a 2.5 mm step; 1e-4 to 4e-4 for the others at 0.35 to 1.4 mm)
    assert np.abs(table - per_sample).max() < 0.6 / 255
    assert np.array_equal(table > 0, per_sample > 0)


class _PerSampleContext:
    """An ArrayContext whose ``transfer`` corrects the interpolated opacity of 1 mm for the
    step at every sample, as dvr did before the table was corrected on the CPU."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def transfer(self, value: Any) -> Any:
        c = self._ctx.transfer(value).copy()
        c[:, 3] = 1 - (1 - self._ctx.xp.minimum(c[:, 3], 1)) ** self._ctx.step_mm
        return c


class _PerSampleDvr:
    """dvr's compositing fed by the per-sample correction (its table: the uncorrected one)."""

    def __init__(self, dvr: Any) -> None:
        self.dvr = dvr

    def begin(self, acc: Any, aux: Any) -> None:
        self.dvr.begin(acc, aux)

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: Any) -> Any:
        return self.dvr.sample(acc, aux, idx, pos_tex, _PerSampleContext(ctx))

    def end(self, acc: Any, aux: Any, hit: Any, ctx: Any) -> Any:
        return self.dvr.end(acc, aux, hit, ctx)


@pytest.mark.parametrize("tf_name", ["ct-soft-tissue", "ct-vessels", "ct-bone"])
@pytest.mark.parametrize("shading", [True, False])
@pytest.mark.parametrize("samples_per_mm", [None, 0.5])
def test_dvr_picture_as_with_the_per_sample_correction(tmp_path, tf_name, shading, samples_per_mm):
    vol = small_ct()
    dvr = MODES["dvr"]
    tf = next(t for t in HOST.transfer_functions() if t.name == tf_name)
    scene = Scene(vol, dvr, transfer_function=tf, shading=shading, samples_per_mm=samples_per_mm)
    prepared = prepare_volume(vol)
    camera = Camera(azimuth=30, elevation=20)
    frame = frame_for(prepared, scene, camera, (96, 80))
    win = scene.effective_window()
    raw = tf.lut(prepared.value_min, prepared.value_max, win)
    assert np.array_equal(frame.lut, step_lut(raw, frame.step_mm))
    now = to_uint8(cast_rays(prepared, frame, dvr))
    before = to_uint8(
        cast_rays(prepared, replace(frame, lut=raw), replace(dvr, array=_PerSampleDvr(dvr.array)))
    )
    assert (now[..., 3] > 0).mean() > 0.1  # something drawn
    assert_same_picture(now, before, tmp_path, f"step-lut-{tf_name}-{shading}-{samples_per_mm}")


def _slab_volume() -> Volume:
    """Air on the left half, a homogeneous 100 HU block on the right, 40 mm deep along z."""
    vox = np.full((10, 32, 32), -1000, dtype=np.int16)
    vox[:, :, 16:] = 100
    return Volume(vox, (2.0, 2.0, 4.0), (0.0, 0.0, 0.0), np.eye(3), modality="CT")


@pytest.mark.usefixtures("gl_check")
@pytest.mark.parametrize("backend", ["gl", "array"])
def test_dvr_opacity_does_not_depend_on_the_step(gl_renderer, array_renderer, backend):
    # rays along z through 40 mm of one value: opacity 1 - (1 - alpha) ** 40 whatever the step
    alpha = 0.03
    tf = TransferFunction(
        "flat",
        [(-1000, 0.0, 0.0, 0.0, 0.0), (0, 0.8, 0.6, 0.4, alpha), (3000, 0.8, 0.6, 0.4, alpha)],
    )
    renderer = gl_renderer if backend == "gl" else array_renderer
    vol = _slab_volume()
    camera = Camera.for_plane("axial")
    pictures = []
    for per_mm in (0.25, 0.5, 1.0, 2.0, 4.0):
        scene = Scene(vol, MODES["dvr"], transfer_function=tf, shading=False, samples_per_mm=per_mm)
        pictures.append(renderer.render(scene, camera, (64, 64)))
    expected = 1 - (1 - alpha) ** 40.0
    for img in pictures:
        # the block's middle (columns of the right half, away from its edges)
        block = img[20:44, :, 3].astype(int)
        block = block[:, (block > 0).sum(axis=0) == len(block)][:, 3:-3]  # not its edges
        assert block.shape[1] > 8
        assert np.abs(block - round(255 * expected)).max() <= 1
    for img in pictures[1:]:
        diff = np.abs(img.astype(int) - pictures[0].astype(int))
        assert (diff > 1).mean() < 0.02  # only the block's edges (partial voxels) differ
