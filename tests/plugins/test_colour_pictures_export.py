"""The png and movie exporters on colour series (RGB, YBR, palette colour; single images,
frames without slice positions, and a colour stack with positions): the pictures as they are,
the colours exact against pydicom's own decoding, never ray-cast."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_color_lut

from ownscan.core.assembly import assemble
from ownscan.core.cli import main
from ownscan.core.errors import UsageError
from ownscan.core.render import draw_image
from ownscan.core.volume import SeriesInfo, Volume
from ownscan.plugins._output import recorded_warnings
from ownscan.plugins.pictures import MovieExporter, PngExporter

CPU = {"backend": "cpu"}


def _file(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None, name
    return str(path)


def _volume(name: str) -> Volume:
    (series,) = assemble([_file(name)]).series
    return series.load()


def _decoded(name: str) -> np.ndarray:
    """The file's pictures as RGB uint8 (frames, rows, cols, 3), decoded by pydicom alone:
    YBR converted to RGB (pydicom's default), palette colour through its own LUT."""
    ds = pydicom.dcmread(_file(name))
    arr = ds.pixel_array
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:  # 16-bit palette entries: their top 8 bits, as shown
            arr = (arr >> 8).astype(np.uint8)
    if int(getattr(ds, "NumberOfFrames", 1) or 1) == 1:
        arr = arr[None]
    return np.asarray(arr)


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb.dcm",
        "SC_ybr_full_uncompressed.dcm",
        "OBXXXX1A_rle.dcm",
        "US1_UNCR.dcm",
        "SC_rgb_rle_2frame.dcm",
    ],
)
def test_png_holds_each_picture_with_its_exact_colours(tmp_path: Path, name: str):
    # the old exporter ray-cast: "cannot ray-cast a colour volume (3 samples per voxel)"
    want = _decoded(name)
    assert main(["export", _file(name), "--format", "png", "-o", str(tmp_path / "out")]) == 0
    files = sorted((tmp_path / "out").rglob("*.png"))
    assert [f.name for f in files] == [f"frame_{k:04d}.png" for k in range(1, len(want) + 1)]
    for f, frame in zip(files, want, strict=True):
        got = _png(f)
        # one PNG pixel per stored pixel, row 0 at the top, column 0 on the left (no flip)
        assert got.shape == frame.shape
        np.testing.assert_array_equal(got, frame)


def test_png_is_what_the_viewer_and_render_draw_and_keeps_the_warnings(tmp_path: Path):
    volume = _volume("SC_rgb_2frame.dcm")
    assert volume.warnings
    paths = PngExporter().export([volume], tmp_path, {**CPU, "slice": 2, "size": "160x120"})
    assert [p.name for p in paths] == ["frame_0002.png"]
    shown, where = draw_image(volume, (160, 120), frame=1)  # the viewer's and render's 2D path
    assert where.box == (20, 0, 140, 120)  # fitted, centred on black
    np.testing.assert_array_equal(_png(paths[0]), shown[..., :3])
    with Image.open(paths[0]) as im:
        assert im.info["Warning"].splitlines() == recorded_warnings(volume)


def test_png_of_non_square_pixels_keeps_their_aspect(tmp_path: Path):
    volume = _volume("SC_rgb.dcm")
    volume = dataclasses.replace(volume, spacing=(0.5, 1.0, 1.0))
    (path,) = PngExporter().export([volume], tmp_path, CPU)
    got = _png(path)
    assert got.shape == (200, 100, 3)  # rows 1 mm tall, columns 0.5 mm wide: twice as tall
    shown, where = draw_image(volume, (100, 200))  # as the viewer shows it
    assert where.box == (0, 0, 100, 200)
    np.testing.assert_array_equal(got, shown[..., :3])
    # stretched along the columns only: the stored top and bottom rows' colours
    np.testing.assert_array_equal(got[0], volume.voxels[0, 0])
    np.testing.assert_array_equal(got[-1], volume.voxels[0, -1])


@pytest.mark.parametrize("fmt", ["png", "movie"])
@pytest.mark.parametrize("mode", ["dvr", "mip", "iso"])
def test_a_3d_mode_on_colour_says_which_modes_work(tmp_path: Path, fmt: str, mode: str):
    volume = _volume("SC_rgb_2frame.dcm")
    exporter = PngExporter() if fmt == "png" else MovieExporter()
    out = tmp_path / ("out" if fmt == "png" else "m.gif")
    with pytest.raises(UsageError, match=r"--mode mpr") as info:
        exporter.export([volume], out, {**CPU, "mode": mode})
    assert f"--mode {mode}: a colour series" in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_colour_cine_holds_every_frame(tmp_path: Path, suffix: str):
    name = "SC_rgb_rle_2frame.dcm"
    want = _decoded(name)
    path, beside = MovieExporter().export([_volume(name)], tmp_path / f"cine{suffix}", CPU)
    assert beside.name == f"cine{suffix}.warnings.txt"  # the series' warnings, as every movie
    with Image.open(path) as im:
        assert im.n_frames == len(want)
        for k in range(im.n_frames):
            im.seek(k)
            got = np.asarray(im.convert("RGB"))
            assert got.shape == want[k].shape
            if suffix == ".webp":  # lossless: exact
                np.testing.assert_array_equal(got, want[k])


def test_colour_cine_mp4_of_a_multiframe_ultrasound(tmp_path: Path):
    import imageio_ffmpeg

    name = "color3d_jpeg_baseline.dcm"  # 120 colour frames without slice positions
    volume = _volume(name)
    assert volume.samples == 3 and volume.shape[0] == 120
    path, beside = MovieExporter().export([volume], tmp_path / "us.mp4", {**CPU, "frames": 10})
    # its warnings (no place in the patient) beside it, as for every movie (docs/EXPORT.md)
    assert beside.name == "us.mp4.warnings.txt" and "no position" in beside.read_text()
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    assert tuple(meta["size"]) == (640, 480)
    raw = subprocess.run(  # every frame decoded by ffmpeg, as RGB
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    frames = list(np.frombuffer(raw, np.uint8).reshape(-1, 480, 640, 3))
    assert len(frames) == 10
    # lossy H.264 4:2:0: near the decoded frame, and the frames in the file's order
    want = np.asarray(volume.voxels[:10], dtype=np.float64)
    err = [[np.abs(f.astype(np.float64) - w).mean() for w in want] for f in frames]
    assert all(int(np.argmin(row)) == k for k, row in enumerate(err))
    assert max(err[k][k] for k in range(10)) < 4.0


def test_colour_stack_with_positions_exports_its_slices(tmp_path: Path):
    # a colour stack in space: each axial slice is its own colour (red, green, blue, ...)
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.uint8)
    vox = np.broadcast_to(colours[:, None, None, :], (4, 12, 10, 3)).copy()
    volume = Volume(
        vox, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0),
        info=SeriesInfo(series_number=3, series_description="colour stack"),
    )  # fmt: skip
    paths = PngExporter().export([volume], tmp_path, {**CPU, "size": "64x64"})
    assert [p.name for p in paths] == [f"slice_{k:04d}.png" for k in range(1, 5)]
    for p, colour in zip(paths, colours, strict=True):  # feet to head: the acquired order
        got = _png(p)
        centre = got[28:36, 28:36].reshape(-1, 3)
        assert (centre == colour).all(), (p.name, centre[0], colour)


def test_every_and_slice_pick_frames(tmp_path: Path):
    volume = _volume("color3d_jpeg_baseline.dcm")  # 120 frames
    paths = PngExporter().export([volume], tmp_path, {**CPU, "every": 50})
    assert [p.name for p in paths] == ["frame_0001.png", "frame_0051.png", "frame_0101.png"]
    for p, k in zip(paths, (0, 50, 100), strict=True):
        np.testing.assert_array_equal(_png(p), volume.voxels[k])
    with pytest.raises(UsageError, match=r"--slice 121: this series has frames 1\.\.120"):
        PngExporter().export([volume], tmp_path, {**CPU, "slice": 121})
