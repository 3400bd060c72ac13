"""The series browser's thumbnails of colour series keep their colours (they were drawn as a
grey of them: the luma, windowed), as the viewer shows a colour series: as stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from ownscan.core.viewer._sources import thumbnail, thumbnail_from_files
from ownscan.core.volume import Volume


def test_a_colour_volume_thumbnail_keeps_its_colours() -> None:
    rgb = np.zeros((3, 40, 40, 3), np.uint8)
    rgb[:, :, :20] = (255, 0, 0)  # red on the left, blue on the right, in every frame
    rgb[:, :, 20:] = (0, 0, 255)
    tile = thumbnail(Volume(rgb, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)))
    assert tile.shape == (72, 72, 3) and tile.dtype == np.uint8
    assert tuple(tile[36, 10]) == (255, 0, 0)
    assert tuple(tile[36, 60]) == (0, 0, 255)


def test_a_colour_file_thumbnail_is_its_colours() -> None:
    path = get_testdata_file("SC_rgb.dcm")
    assert path is not None
    tile = thumbnail_from_files([str(path)])
    assert tile is not None and tile.shape == (72, 72, 3)
    want = pydicom.dcmread(path).pixel_array  # (100, 100, 3), stored square
    rows, cols = want.shape[:2]
    for y, x in ((5, 5), (36, 36), (66, 50)):  # the tile's pixel is its source pixel's colour
        src = want[
            min(rows - 1, int((y + 0.5) / 72 * rows)), min(cols - 1, int((x + 0.5) / 72 * cols))
        ]
        assert tuple(tile[y, x]) == tuple(int(c) for c in src), (y, x)
    assert np.ptp(tile.reshape(-1, 3).astype(int), axis=1).max() > 100  # not grey


def test_a_dark_colour_file_is_not_brightened(tmp_path: Path) -> None:
    path = get_testdata_file("SC_rgb.dcm")
    assert path is not None
    ds = pydicom.dcmread(path)
    dark = (ds.pixel_array // 3).astype(np.uint8)  # stored values up to 85 of 255
    ds.PixelData = dark.tobytes()
    ds.save_as(tmp_path / "dark.dcm")
    tile = thumbnail_from_files([str(tmp_path / "dark.dcm")])
    assert tile is not None
    rows, cols = dark.shape[:2]
    for y, x in ((5, 5), (36, 36), (66, 50)):  # as stored: 8-bit over 255, not over 85
        r, c = int((y + 0.5) / 72 * rows), int((x + 0.5) / 72 * cols)
        assert tuple(tile[y, x]) == tuple(int(v) for v in dark[min(rows - 1, r), min(cols - 1, c)])


def test_a_grey_thumbnail_is_still_grey_and_windowed() -> None:
    ramp = np.tile(np.arange(64, dtype=np.int16) * 10, (4, 64, 1))
    tile = thumbnail(Volume(ramp, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)))
    assert tile.shape == (72, 72, 3)
    assert (tile[..., 0] == tile[..., 1]).all() and (tile[..., 1] == tile[..., 2]).all()
    assert tile[36, 5, 0] < 30 and tile[36, 66, 0] > 225  # the 1st..99th percentile window
