"""The viewer's Save on colour series: the pictures in colour (a real window under Xvfb, real
exporters), never a ray-cast of three samples per pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from ownscan.core.assembly import assemble
from ownscan.core.plugin_host import get_host
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_volumes
from ownscan.core.volume import SeriesInfo, Volume


def _run(v: Viewer, timeout: float = 120.0) -> None:
    job = v.save.job
    assert job is not None
    for _ in range(int(timeout / 0.05)):
        v.frame()
        if job.finished:
            break
        job.wait(0.05)
    v.frame()
    assert job.finished


def test_save_a_colour_image_as_png_holds_its_exact_pixels(
    xvfb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = get_testdata_file("SC_rgb_rle_2frame.dcm")
    assert path is not None
    (series,) = assemble([str(path)]).series
    want = pydicom.dcmread(path).pixel_array  # (2, 100, 100, 3)
    with Viewer(entries_from_volumes([series.load()]), ViewerOptions(size=(800, 600))) as v:
        v.frame()
        v.save.start(get_host().exporter("png"), tmp_path / "pictures", three_d=True)
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        assert [p.name for p in job.paths] == ["frame_0001.png", "frame_0002.png"]
        for p, frame in zip(job.paths, want, strict=True):
            with Image.open(p) as im:
                np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frame)


def test_save_a_colour_stack_ignores_the_3d_view(
    xvfb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a colour stack with positions has no 3D view: "as the 3D view shows it" cannot apply
    monkeypatch.setenv("HOME", str(tmp_path))
    vox = np.zeros((3, 8, 8, 3), np.uint8)
    vox[..., 0] = np.array([60, 120, 180], np.uint8)[:, None, None]  # each slice its own red
    volume = Volume(vox, spacing=(1.0, 1.0, 1.0), info=SeriesInfo(series_number=2))
    with Viewer(entries_from_volumes([volume]), ViewerOptions(size=(800, 600))) as v:
        v.frame()
        out = tmp_path / "cine.gif"
        v.save.start(get_host().exporter("movie"), out, {"size": (32, 32)}, three_d=True)
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        with Image.open(out) as im:
            assert im.n_frames == 3  # the axial slices, not a turntable
