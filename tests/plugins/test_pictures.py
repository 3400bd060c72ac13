"""The png and movie exporters: the right slices in anatomical order, the same pictures as
``ownscan render``, and movies that ffmpeg (the one imageio-ffmpeg ships) decodes to the asked
frame count and size."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from export_data import write_study
from PIL import Image

from ownscan.core.assembly import assemble
from ownscan.core.cli import main
from ownscan.core.volume import SeriesInfo, Volume
from ownscan.plugins.pictures import MovieExporter, PngExporter, slice_offsets

CPU = {"backend": "cpu"}


def ramp_volume(axis: int, n: int = 9) -> Volume:
    """A 24x20x16-voxel box whose value is 10 x the index along ``axis`` (0 = i/x, 1 = j/y,
    2 = k/z) where it is not air: a slice's grey level says which slice it is."""
    shape = (16, 20, 24)  # (z, y, x)
    shape_l = list(shape)
    shape_l[2 - axis] = n
    idx = np.indices(shape_l)[2 - axis]
    vox = (10 * idx).astype(np.int16)
    return Volume(
        vox,
        spacing=(1.0, 1.2, 2.0),
        origin=(-10.0, 5.0, 30.0),
        modality="CT",
        units="HU",
        info=SeriesInfo(series_number=7, series_description="ramp"),
    )


def centre_grey(path: Path) -> float:
    rgb = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    h, w = rgb.shape
    return float(rgb[h // 2 - 2 : h // 2 + 3, w // 2 - 2 : w // 2 + 3].mean())


@pytest.mark.parametrize(
    ("plane", "axis", "ascending"),
    [("axial", 2, True), ("coronal", 1, False), ("sagittal", 0, True)],
    ids=["axial-feet-to-head", "coronal-back-to-front", "sagittal-right-to-left"],
)
def test_every_slice_in_anatomical_order(tmp_path: Path, plane: str, axis: int, ascending: bool):
    # LPS: +x = patient's left, +y = posterior, +z = head; ascending index along x is right to
    # left (ascending), along y back to front is descending index, along z feet to head ascending
    vol = ramp_volume(axis)
    opts = {**CPU, "plane": plane, "window": 80.0, "level": 40.0, "size": (64, 64)}
    written = PngExporter().export([vol], tmp_path, opts)
    assert [p.name for p in written] == [f"slice_{n:04d}.png" for n in range(1, 10)]
    assert {p.parent.name for p in written} == {"7_ramp"}
    greys = [centre_grey(p) for p in written]
    values = [10 * k for k in (range(9) if ascending else reversed(range(9)))]
    want = [min(255.0, max(0.0, v / 80 * 255)) for v in values]
    np.testing.assert_allclose(greys, want, atol=3)


def test_every_and_one_slice_and_never_overwrite(tmp_path: Path):
    vol = ramp_volume(2)
    opts = {**CPU, "window": 80.0, "level": 40.0, "size": (32, 32)}
    every = PngExporter().export([vol], tmp_path, {**opts, "every": 4})
    assert [p.name for p in every] == ["slice_0001.png", "slice_0005.png", "slice_0009.png"]
    (one,) = PngExporter().export([vol], tmp_path, {**opts, "slice": 2})
    assert one.parent.name == "7_ramp_2"  # a new folder beside the first, nothing replaced
    assert centre_grey(one) == pytest.approx(10 / 80 * 255, abs=3)
    with pytest.raises(ValueError, match=r"--slice 10: this view has slices 1\.\.9"):
        PngExporter().export([vol], tmp_path, {**opts, "slice": 10})


def test_slice_offsets_hit_the_acquired_slices():
    vol = ramp_volume(2, n=6)
    from ownscan.core.render import Camera

    offs = slice_offsets(vol, Camera.for_plane("axial"))
    # six slices 2 mm apart, symmetric about the centre, feet (most negative z) first; the
    # axial camera looks from the feet, so a positive offset is towards the feet
    np.testing.assert_allclose(offs, [5.0, 3.0, 1.0, -1.0, -3.0, -5.0])


def test_3d_view_is_what_ownscan_render_draws(tmp_path: Path):
    study = write_study(tmp_path / "study")
    args = ["--mode", "mip", "--azimuth", "30", "--elevation", "10", "--size", "80x64",
            "--backend", "cpu", "--preset", "lung"]  # fmt: skip
    ref = tmp_path / "ref.png"
    assert main(["render", str(study.root / "s1"), "-o", str(ref), *args]) == 0
    out = tmp_path / "png"
    assert main(["export", str(study.root / "s1"), "--format", "png", "-o", str(out), *args]) == 0
    (view,) = out.glob("*/view.png")
    np.testing.assert_array_equal(np.asarray(Image.open(view)), np.asarray(Image.open(ref)))


def test_slice_png_is_what_ownscan_render_draws_for_that_slice(tmp_path: Path):
    study = write_study(tmp_path / "study")
    series = assemble(str(study.root / "s1")).series
    vol = series[0].load()
    from ownscan.core.render import Camera

    offs = slice_offsets(vol, Camera.for_plane("axial"))
    out = tmp_path / "png"
    common = ["--window", "400", "--level", "40", "--size", "64x48", "--backend", "cpu"]
    assert main(["export", str(study.root / "s1"), "--format", "png", "-o", str(out),
                 "--slice", "3", *common]) == 0  # fmt: skip
    (png,) = out.glob("*/slice_0003.png")
    ref = tmp_path / "ref.png"
    assert main(["render", str(study.root / "s1"), "-o", str(ref), "--mode", "mpr",
                 "--offset", repr(offs[2]), *common]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(ref)))


def test_mp4_turntable_decodes_to_the_asked_frames_and_size(tmp_path: Path):
    vol = ramp_volume(2)
    (path,) = MovieExporter().export(
        [vol], tmp_path / "turn", {**CPU, "frames": 12, "size": (95, 79), "fps": 10}
    )
    assert path.name == "turn.mp4"
    frames, secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == 12 and secs == pytest.approx(1.2, abs=0.05)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert tuple(meta["size"]) == (96, 80)  # rounded up to even sides for H.264 4:2:0
    reader.close()
    with pytest.raises(FileExistsError, match="not overwritten"):
        MovieExporter().export([vol], path, {**CPU, "frames": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["turn.mp4"]


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_cine_gif_and_webp_hold_every_slice(tmp_path: Path, suffix: str):
    vol = ramp_volume(2)
    opts = {**CPU, "mode": "mpr", "window": 80.0, "level": 40.0, "size": (40, 40), "fps": 5}
    (path,) = MovieExporter().export([vol], tmp_path / f"cine{suffix}", opts)
    with Image.open(path) as img:
        assert img.n_frames == 9 and img.size == (40, 40)
        greys = []
        for n in range(9):
            img.seek(n)
            greys.append(float(np.asarray(img.convert("L"))[18:22, 18:22].mean()))
    assert greys == sorted(greys) and greys[-1] > greys[0] + 200  # feet to head


def _export_cli(tmp_path: Path, out: str, stderr: int) -> subprocess.CompletedProcess:
    study = tmp_path / "study"
    if not study.exists():
        write_study(study)
    cmd = [sys.executable, "-m", "ownscan.core.cli", "export", str(study / "s1"), "--format",
           "movie", "-o", str(tmp_path / out), "--frames", "6", "--size", "32x32",
           "--backend", "cpu"]  # fmt: skip
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=stderr, check=False)


def test_progress_on_a_terminal_silence_in_a_pipe(tmp_path: Path):
    piped = _export_cli(tmp_path, "a.gif", subprocess.PIPE)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == b""
    master, slave = pty.openpty()
    # a terminal 80 columns wide (a fresh pty has 0, where tqdm draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        tty = _export_cli(tmp_path, "b.gif", slave)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert tty.returncode == 0
    # a bar with its total (tqdm may skip drawing the last step when frames come fast)
    assert b"movie" in seen and b"/6 " in seen
