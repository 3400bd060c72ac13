"""vispy as the bench's MIP peer: it runs in its own child (EGL, surfaceless) and draws the
same CT in the same framing (what it drew covers the volume's share of the picture)."""

from __future__ import annotations

import numpy as np
import pytest

from ownscan.core.bench._render import _scene, bench_volume
from ownscan.core.bench._vispy import vispy_mip_ms
from ownscan.core.render import GLRenderer, frame_for, prepare_volume

pytest.importorskip("vispy")


def test_vispy_draws_the_bench_ct_as_ownscan_frames_it():
    spec, size = "96x96x48", (96, 96)
    volume = bench_volume(spec)
    scene, camera = _scene(volume, "mip")
    frame = frame_for(prepare_volume(volume), scene, camera, size)
    ours = GLRenderer()
    try:
        drawn = float((ours.render(scene, camera, size)[..., :3] > 0).mean())
    finally:
        ours.close()
    per_mm = np.linalg.norm(np.linalg.solve(volume.affine[:3, :3], frame.basis_lps[:, 2]))
    got = vispy_mip_ms(spec, size, frame.step_mm * per_mm, 2 * frame.half_mm[1], 1)
    assert "error" not in got, got
    assert got["ms"] > 0
    # the same share of the picture is drawn (same framing), within the edge pixels
    assert abs(got["drawn"] - drawn) < 0.05, (got["drawn"], drawn)
