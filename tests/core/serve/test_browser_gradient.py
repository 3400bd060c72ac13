"""The page's compact gradient texture is the desktop's: ``gradientTexels`` (static/volume.js,
run in Chromium from the real server) gives, byte for byte, ``gradient_texels`` (RGB8 snorm) for
every kind of layout (halved along all, some or no axes; odd and even sizes; the extremes of
the 16-bit range; isotropic and anisotropic spacing, so vectors shortened and not), with the
voxels-per-texel and byte steps the server's header gives each level."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from browser_support import sign_in

from ownscan.core.render._gradient import GradientLayout, gradient_factors, gradient_scales
from ownscan.core.render._setup import gradient_texels

# (nx, ny, nz), factors, spacing: every axis halved (odd and even), some, none; a single
# slice; spacings from fine (most vectors shortened to 127 steps) to coarse
LAYOUTS = [
    ((19, 17, 13), (2, 2, 2), (0.7, 0.7, 1.0)),
    ((20, 16, 9), (2, 2, 1), (0.9, 0.9, 2.0)),
    ((7, 33, 18), (1, 2, 2), (400.0, 300.0, 350.0)),
    ((5, 4, 3), (1, 1, 1), (1.0, 1.0, 1.0)),
    ((17, 16, 1), (2, 2, 1), (2000.0, 2000.0, 5000.0)),
]

TEXELS = """async (cases) => {
    const { gradientTexels } = await import('/static/volume.js');
    return cases.map(([q, dims, factors, scales]) =>
        Array.from(gradientTexels(Uint16Array.from(q), dims, factors, scales)));
}"""


def _volume(dims: tuple[int, int, int], seed: int) -> np.ndarray:
    """Random quantised voxels ``(nz, ny, nx)`` with both ends of the range in them, and a
    full-range step (the largest differences of either sign)."""
    nx, ny, nz = dims
    q = np.random.default_rng(seed).integers(0, 65536, size=(nz, ny, nx), dtype=np.uint16)
    q[..., : nx // 2] //= 64  # a dark half beside a bright one
    q.flat[0], q.flat[-1] = 0, 65535
    return q


def test_the_pages_gradient_texels_are_the_desktops(served: Any, desktop: Any) -> None:
    sign_in(desktop, served)
    volumes = [_volume(dims, seed) for seed, (dims, _, _) in enumerate(LAYOUTS)]
    cases = [
        [q.ravel().tolist(), list(dims), list(f), list(gradient_scales(s))]
        for q, (dims, f, s) in zip(volumes, LAYOUTS, strict=True)
    ]
    got = desktop.evaluate(TEXELS, cases)
    shortened = kept = 0
    for q, (dims, f, s), page in zip(volumes, LAYOUTS, got, strict=True):
        layout = GradientLayout(dims, f, s)
        want = gradient_texels(q, layout)
        mx, my, mz = layout.texel_dims
        assert len(page) == mx * my * mz * 3, (dims, f)
        np.testing.assert_array_equal(
            np.asarray(page, np.int8).reshape(mz, my, mx, 3), want, err_msg=f"{dims} {f}"
        )
        length = np.linalg.norm(want.astype(float), axis=-1)
        shortened += int((length > 126).sum())
        kept += int(((length > 2) & (length < 120)).sum())
    assert shortened > 100 and kept > 100  # both sides of the encoding were compared


@pytest.mark.parametrize("level", [0, 1])
def test_the_header_gives_each_levels_gradient_factors(served: Any, level: int) -> None:
    c = served.client()
    study = c.get("/api/library").json()["patients"][0]["studies"][0]
    uid = study["series"][0]["series_uid"]
    header = c.get(f"/api/series/{uid}").json()
    lv = next(lv for lv in header["levels"] if lv["level"] == level)
    z, y, x = lv["shape"][:3]
    spacing = np.linalg.norm(np.asarray(lv["affine"])[:3, :3], axis=0)
    assert lv["gradient_factors"] == list(gradient_factors((x, y, z), spacing))
    assert lv["gradient_scales"] == list(gradient_scales(spacing))
    # the generated CT: 0.9 x 0.9 x 2.0 mm (the preview 1.8 x 1.8 x 4.0): the 2 mm axis kept
    assert lv["gradient_factors"] == [2, 2, 1]
