"""Many colour MPRs of one colour volume (the slices of a colour stack for an export or a
movie): drawn channel after channel over a batch, each channel uploaded once a batch, the
pictures the same as one ``colour_mpr`` call each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gl_support import assert_same_picture

from ownscan.core.render import ArrayRenderer, GLRenderer, _colour, colour_mpr, colour_mprs
from ownscan.core.render._camera import Camera
from ownscan.core.render._scene import Scene
from ownscan.core.volume import Volume

pytestmark = pytest.mark.usefixtures("gl_check")


def _stack() -> Volume:
    """A colour stack whose every slice, row and column differs in some channel."""
    k, j, i = np.mgrid[:20, :24, :28]
    rgb = np.stack([i * 9, j * 10, k * 12], axis=-1).astype(np.uint8)
    return Volume(rgb, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0))


class Counting:
    """A real renderer that records each volume it is asked to draw, in order."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.drawn = inner, []
        self.name = inner.name

    def render(self, scene: Scene, camera: Camera, size: tuple[int, int], **kw: Any) -> Any:
        self.drawn.append(scene.volume)
        return self.inner.render(scene, camera, size, **kw)

    def switches(self) -> int:
        """How many times the volume drawn changed (each change is an upload on GL)."""
        return sum(1 for a, b in zip([None, *self.drawn], self.drawn, strict=False) if a is not b)


OFFSETS = [-15.0, -9.0, -3.0, 0.0, 4.0, 10.0, 16.0]


@pytest.mark.parametrize("batch", [1, 3, 16])
def test_many_pictures_equal_one_call_each(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = _stack()
    monkeypatch.setattr(_colour, "BATCH", batch)
    renderer = ArrayRenderer()
    options = [{"plane": "axial", "offset": o} for o in OFFSETS]
    many = list(colour_mprs(renderer, volume, options, (40, 36)))
    assert len(many) == len(OFFSETS)
    for (picture, cams), opts in zip(many, options, strict=True):
        alone, alone_cams = colour_mpr(renderer, volume, opts, (40, 36))
        np.testing.assert_array_equal(picture, alone)
        assert [c.basis_lps().tolist() for c in cams] == [
            c.basis_lps().tolist() for c in alone_cams
        ]
    # three standard planes a picture (no plane asked): also the same
    (three, cams), *_ = colour_mprs(renderer, volume, [{"offset": 0.0}], (60, 40))
    np.testing.assert_array_equal(three, colour_mpr(renderer, volume, {"offset": 0.0}, (60, 40))[0])
    assert len(cams) == 3


def test_each_channel_is_drawn_once_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    volume = _stack()
    monkeypatch.setattr(_colour, "BATCH", 4)
    renderer = Counting(ArrayRenderer())
    options = [{"plane": "axial", "offset": o} for o in OFFSETS]  # 7 pictures: 2 batches
    assert len(list(colour_mprs(renderer, volume, options, (32, 32)))) == 7
    assert len(renderer.drawn) == 3 * 7
    assert len({id(v) for v in renderer.drawn}) == 3  # the channels made once for all
    assert renderer.switches() == 3 * 2  # red, green, blue in each of the two batches


def test_gl_draws_the_batch_as_the_arrays_do(tmp_path: Path) -> None:
    volume = _stack()
    options = [{"plane": "coronal", "offset": o} for o in (-6.0, 0.0, 7.0)]
    gl = GLRenderer()
    try:
        on_gl = [p for p, _ in colour_mprs(gl, volume, options, (48, 40))]
    finally:
        gl.close()
    on_arrays = [p for p, _ in colour_mprs(ArrayRenderer(), volume, options, (48, 40))]
    for k, (a, b) in enumerate(zip(on_gl, on_arrays, strict=True)):
        assert_same_picture(a, b, tmp_path, f"coronal-{k}")
