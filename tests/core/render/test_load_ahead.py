"""The GL made ready while a series loads (``core/render/_ahead.py``): the program compiled
ahead is the one the first frame uses (no second compilation), the picture is the one a
renderer made after the load draws, and a failed load closes the renderer it made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ownscan.core.assembly import assemble
from ownscan.core.bench._load import generate
from ownscan.core.errors import UsageError
from ownscan.core.plugin_host import get_host
from ownscan.core.render import Camera, Scene, create_renderer
from ownscan.core.render._ahead import load_while_ready
from ownscan.core.render._gl import GLRenderer
from ownscan.core.render._view import drawn_mode, view_from_options


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    generate(folder, 40, 96)
    return folder


def _gl() -> GLRenderer:
    renderer = create_renderer("gl")
    assert isinstance(renderer, GLRenderer)
    return renderer


@pytest.mark.parametrize("name", ["mip", "minip", "dvr", "iso"])
def test_first_frame_uses_the_program_compiled_ahead(ct, gl_check, name):
    host = get_host()
    series = assemble(ct).series[0]
    options = {"mode": name}
    mode = drawn_mode(host.mode(name), None)[0]
    volume, renderer = load_while_ready(series, 0, _gl, mode)
    assert isinstance(renderer, GLRenderer)
    try:
        ahead = dict(renderer._programs)
        assert len(ahead) == 1, "the mode's program is compiled during the load"
        scene, camera = view_from_options(volume, options, host)
        picture = renderer.render(scene, camera, (96, 80))
        assert renderer._programs == ahead, "the first frame compiled another program"
    finally:
        renderer.close()
    after = _gl()  # as before: the renderer made once the voxels are there
    try:
        again = after.render(*view_from_options(series.load(), options, host), (96, 80))
    finally:
        after.close()
    assert np.array_equal(picture, again)
    assert picture[..., :3].max() > 0


def test_a_volume_that_differs_from_its_header_still_draws(ct, gl_check):
    """A wrong guess (another size than the header said) costs a compilation, never a picture:
    the frame looks its program up by its own key."""
    host = get_host()
    series = assemble(ct).series[0]
    volume = series.load()
    renderer = _gl()
    try:
        renderer.compile_ahead(host.mode("dvr"), (4000, 8, 8), volume.spacing)
        renderer.compile_ahead(host.mode("mip"), (40, 96, 96), volume.spacing, shading=False)
        scene = Scene(volume, host.mode("mip"))
        picture = renderer.render(scene, Camera.for_plane("anterior"), (64, 64))
    finally:
        renderer.close()
    reference = _gl()
    try:
        assert np.array_equal(
            picture, reference.render(scene, Camera.for_plane("anterior"), (64, 64))
        )
    finally:
        reference.close()


class _Counted(GLRenderer):
    closed = False

    def close(self) -> None:
        super().close()
        self.closed = True


def test_a_failed_load_raises_its_error_and_closes_the_renderer(ct, gl_check):
    series = assemble(ct).series[0]
    made: list[_Counted] = []

    def make() -> _Counted:
        made.append(_Counted())
        return made[-1]

    with pytest.raises(UsageError, match="volume 5"):  # no volume 5 in a 3D series
        load_while_ready(series, 5, make, get_host().mode("mip"))
    assert len(made) == 1
    assert made[0].closed


def test_a_renderer_that_cannot_be_made_is_left_to_the_caller(ct):
    def fail() -> GLRenderer:
        raise RuntimeError("no GL here")

    volume, renderer = load_while_ready(assemble(ct).series[0], 0, fail, get_host().mode("mip"))
    assert renderer is None
    assert volume.shape == (40, 96, 96)
