"""GLRenderer.compile_ahead's warm-up frame (core/render/_gl.py, ``_warm_up``): a stand-in
volume whose sides, skip blocks and bound blocks are powers of two exactly where the real
volume's are, drawn once so that llvmpipe makes the program's variant during the load; it
leaves nothing behind (no volume on the GPU, no note) and the next picture is the one a
renderer without it draws, to the bit. Modes with a transfer function draw no warm-up."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import TF

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene
from ownscan.core.render._gl import _stand_in_side
from ownscan.core.render._setup import BRICK, RUNNING_BRICK
from ownscan.core.render.phantom import ct_phantom

MODES = {m.name: m for m in PluginHost().modes()}


def _powers(n: int) -> list[bool]:
    return [(c & (c - 1)) == 0 for c in (n, -(-n // BRICK), -(-n // RUNNING_BRICK))]


@pytest.mark.parametrize("n", [*range(1, 300), 512, 1000, 1024, 2000, 2048])
def test_the_stand_in_is_a_power_of_two_where_the_volume_is(n):
    m = _stand_in_side(n)
    assert m is not None and 1 <= m <= 64
    assert _powers(m) == _powers(n)


def _picture(mode: str, ahead: bool, calls: list[str] | None = None) -> np.ndarray:
    vol = ct_phantom((36, 40, 32), spacing=(0.8, 0.8, 1.2), seed=4)
    z, y, x = vol.shape
    gl = GLRenderer()
    try:
        if ahead:
            if calls is not None:
                real = gl.render
                gl.render = lambda *a, **k: calls.append("render") or real(*a, **k)
            gl.compile_ahead(MODES[mode], (z, y, x), vol.spacing)
            if calls is not None:
                del gl.render
            assert gl._gpu is None and gl.notes == []  # the stand-in is gone
        tf = TF if MODES[mode].uses_transfer_function else None
        return gl.render(
            Scene(vol, MODES[mode], transfer_function=tf), Camera(azimuth=20), (64, 56)
        )
    finally:
        gl.close()


@pytest.mark.parametrize("mode", ["mip", "minip", "xray", "mpr"])
def test_the_next_picture_is_the_same_to_the_bit(mode):
    calls: list[str] = []
    with_warm_up = _picture(mode, True, calls)
    assert calls == ["render"]  # the warm-up frame was drawn
    assert with_warm_up.any()
    np.testing.assert_array_equal(with_warm_up, _picture(mode, False))


def test_a_mode_with_a_transfer_function_draws_no_warm_up():
    calls: list[str] = []
    with_ahead = _picture("dvr", True, calls)
    assert calls == []
    np.testing.assert_array_equal(with_ahead, _picture("dvr", False))
