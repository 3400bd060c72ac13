"""Headers that lie about sizes, geometry or values (issue #16): every allocation a header value
drives is checked against what the file holds before it happens, and one bad series never stops
the others. Each command runs in a subprocess under a memory cap (tests/core/hostile.py)."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped, nest_sequences
from pydicom import dcmread


@pytest.fixture(scope="module")
def jpeg_lossless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real JPEG lossless CT image (gdcmconv)."""
    folder = tmp_path_factory.mktemp("jl")
    src = write_ct_series(folder / "src", n_slices=1)[0]
    out = folder / "jl.dcm"
    subprocess.run(["gdcmconv", "--jpeg", str(src), str(out)], check=True)
    return out


def _lie(jl: Path, folder: Path, **values: object) -> Path:
    folder.mkdir(parents=True)
    ds = dcmread(jl)
    with warnings.catch_warnings():  # pydicom warns about the lies it is asked to write
        warnings.simplefilter("ignore")
        for k, v in values.items():
            setattr(ds, k, v)
        ds.save_as(folder / "a.dcm")
    return folder / "a.dcm"


@pytest.mark.parametrize(
    ("frames", "says"),
    [
        (2_000_000, "Number of Frames 2000000 is more than"),
        ("1e9", "Number of Frames 1000000000 is more than"),
        (500_000, "holds only 1 fragment(s)"),
        (3, "holds only 1 fragment(s)"),
        (-4, "Number of Frames is -4"),
    ],
)
@pytest.mark.parametrize("command", ["info", "export", "render"])
def test_number_of_frames_lie(
    jpeg_lossless: Path, tmp_path: Path, frames: object, says: str, command: str
) -> None:
    # a 215 KB JPEG-lossless file with Number of Frames 2,000,000 made `info` grow to 2.9 GB
    bad = _lie(jpeg_lossless, tmp_path / "in", NumberOfFrames=frames)
    write_ct_series(tmp_path / "in" / "good", n_slices=3, series_number=7)
    args = {"info": [], "export": ["-o", str(tmp_path / "out")]}.get(
        command, ["-o", str(tmp_path / "r.png"), "--size", "32x32", "--backend", "cpu"]
    )
    r = capped(command, str(tmp_path / "in"), *args)
    assert_handled(r)
    lines = [ln for ln in r.stderr.splitlines() if str(bad) in ln]
    assert len(lines) == 1 and says in lines[0], r.stderr
    if command == "export":
        assert len(list((tmp_path / "out").glob("*.nii.gz"))) == 1  # the good series


def test_frames_checked_on_the_pydicom_path_too(jpeg_lossless: Path, tmp_path: Path) -> None:
    # a character set the scanner declines: pydicom reads the header, the same check applies
    bad = _lie(
        jpeg_lossless, tmp_path / "in", NumberOfFrames=40_000, SpecificCharacterSet="ISO_IR 144"
    )
    r = capped("info", str(tmp_path / "in"))
    assert_handled(r)
    assert f"{bad}: Number of Frames is 40000 but" in r.stderr


def test_two_real_fragments_two_frames_accepted(jpeg_lossless: Path, tmp_path: Path) -> None:
    # the check counts fragments, it does not refuse honest multi-frame files
    from pydicom.encaps import encapsulate, generate_frames

    ds = dcmread(jpeg_lossless)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame, frame])
    ds.NumberOfFrames = 2
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "two.dcm")
    r = capped("info", str(tmp_path / "in"))
    assert r.returncode == 0 and not r.stderr, r.stderr
    # both frames read: at the same position, told apart only by their order (4D, warned)
    assert "2 image(s)" in r.stdout and "by frame order" in r.stdout, r.stdout


def test_huge_image_size_is_refused_before_decoding(jpeg_lossless: Path, tmp_path: Path) -> None:
    bad = _lie(jpeg_lossless, tmp_path / "in", Rows=65535, Columns=65535, SamplesPerPixel=1)
    r = capped("info", str(tmp_path / "in"))
    assert_handled(r)
    assert f"{bad}: one frame would need 8.0 GiB" in r.stderr


def test_too_large_to_decode_is_one_line(jpeg_lossless: Path, tmp_path: Path) -> None:
    # 16000 x 16000 x 16 bits = 488 MiB for one frame: more than the 400 MiB the process has
    # beyond its libraries. The allocation fails as one line, not an internal MemoryError.
    bad = _lie(jpeg_lossless, tmp_path / "in", Rows=16000, Columns=16000)
    r = capped(
        "render",
        str(tmp_path / "in"),
        "-o",
        str(tmp_path / "r.png"),
        "--backend",
        "cpu",
        memory=900 << 20,
    )
    assert_handled(r)
    assert r.returncode == 2
    # the one frame cannot be decoded at that size (its stream holds 64x48): with nothing
    # decoded there is no picture to draw, said before any drawing allocates; where the
    # volume's own allocation fails first, that is the one line
    said = ("memory", "no image of")
    assert f"{bad}" in r.stderr and any(w in r.stderr for w in said), r.stderr


def _deep(src: Path, out: Path, depth: int) -> None:
    out.write_bytes(nest_sequences(src.read_bytes(), depth))


@pytest.mark.parametrize("depth", [40, 5000])
def test_sequence_depth(tmp_path: Path, depth: int) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=3)
    _deep(files[1], files[1], depth)
    r = capped("info", str(tmp_path / "in"))
    assert_handled(r)
    if depth > 200:  # beyond what pydicom can read: one line, the rest is shown
        assert f"{files[1]}: damaged header (sequences nested too deep" in r.stderr
        assert "2 image(s)" in r.stdout
    else:  # declined by the scanner, read by pydicom
        assert "3 image(s)" in r.stdout and r.returncode == 0, r.stderr


# -- one bad series never stops the others --------------------------------------------------------
def _two_series(folder: Path) -> list[Path]:
    bad = write_ct_series(folder / "a", n_slices=4, series_number=1)
    write_ct_series(folder / "b", n_slices=4, series_number=2, seed=3)
    return bad


@pytest.mark.parametrize("uncompressed", [False, True])
def test_export_rows_65535_reports_one_series(tmp_path: Path, uncompressed: bool) -> None:
    files = _two_series(tmp_path / "in")
    for f in files:  # 65535 x 1 pixels, honestly present: too long an axis for NIfTI-1
        ds = dcmread(f)
        ds.Rows, ds.Columns = 65535, 1
        ds.PixelData = np.zeros(65535, np.int16).tobytes()
        ds.save_as(f)
    extra = ["--uncompressed"] if uncompressed else []
    r = capped("export", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *extra)
    assert_handled(r)
    assert r.returncode == 1
    assert "NIfTI-1 holds at most 32767 voxels along an axis" in r.stderr
    assert len(list((tmp_path / "out").iterdir())) == 1, r.stdout  # series 2 is written


def test_export_slope_1e308_reports_one_series(tmp_path: Path) -> None:
    files = _two_series(tmp_path / "in")
    ds = dcmread(files[1])
    ds.RescaleSlope = "1e308"
    ds.save_as(files[1])
    r = capped("export", str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert_handled(r)
    assert r.returncode == 1
    assert f"{files[1]}: Rescale Slope 1e+308" in r.stderr
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_large_integer_slope_is_float32_not_overflow(tmp_path: Path) -> None:
    from ownscan.core import load_volume

    files = write_ct_series(tmp_path / "in", n_slices=3)
    for f in files:
        ds = dcmread(f)
        ds.RescaleSlope = "1e12"
        ds.save_as(f)
    vol = load_volume(tmp_path / "in")
    assert vol.voxels.dtype == np.float32
    raw = dcmread(files[0]).pixel_array.astype(np.float64)
    assert np.allclose(vol.voxels[0], raw * 1e12 - 1024, rtol=1e-6)


# -- geometry that cannot be true -----------------------------------------------------------------
def test_nan_position_sets_one_slice_apart(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=5)
    ds = dcmread(files[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.ImagePositionPatient = ["NaN", "0", "0"]
        ds.save_as(files[2])
    for command in ("info", "render"):
        args = [] if command == "info" else ["-o", str(tmp_path / "r.png"), "--backend", "cpu"]
        r = capped(command, str(tmp_path / "in"), *args)
        assert r.returncode == 0, r.stderr
        assert_handled(r)
    r = capped("info", str(tmp_path / "in"))
    # the other four still stack; the gap the NaN slice leaves is resampled (and said)
    assert "CT volume 64x48x5 spacing 0.7x0.8x2.5 mm, 4 image(s)" in r.stdout, r.stdout
    assert "resampled onto a regular grid of 5 slices" in r.stdout
    assert f"(e.g. {files[2]}): ImagePositionPatient 'nan\\0.0\\0.0' is not a position" in r.stdout


@pytest.mark.parametrize("iop", [[1, 0, 0, 0.7, 0.7, 0], [0, 0, 0, 0, 0, 0]])
def test_bad_orientation_is_named(tmp_path: Path, iop: list[float]) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=3)
    for f in files:
        ds = dcmread(f)
        ds.ImageOrientationPatient = iop
        ds.save_as(f)
    r = capped("info", str(tmp_path / "in"))
    assert r.returncode == 0
    assert r.stdout.count("is not two perpendicular unit vectors") == 3, r.stdout


def test_pixel_spacing_1e300_renders(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=4)
    for f in files:
        ds = dcmread(f)
        ds.PixelSpacing = ["1e300", "1e300"]
        ds.save_as(f)
    for backend in ("cpu", "gl"):
        r = capped(
            "render",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "r.png"),
            "--size",
            "64x64",
            "--backend",
            backend,
        )
        assert_handled(r)
        assert r.returncode == 0, r.stderr
        assert "PixelSpacing '1e+300\\1e+300' is not a pixel spacing: ignored" in r.stderr
        # drawn with a stand-in pixel size that the summary does not pass off as a size
        assert "no pixel spacing" in r.stdout, r.stdout


# -- found by the fuzzer (tests/core/test_fuzz.py) -------------------------------------------------
def test_unknown_vr_read_lazily_is_a_read_problem(tmp_path: Path) -> None:
    # Samples per Pixel with VR "U\0": pydicom converts it only when it is read, after the
    # header was read; that used to escape as NotImplementedError (exit 70)
    from ownscan.core.dicom import ReadProblem, read_frames

    f = write_ct_series(tmp_path / "in", n_slices=1)[0]
    data = bytearray(f.read_bytes())
    at = data.index(b"\x28\x00\x02\x00US")
    data[at + 4 : at + 6] = b"U\0"
    bad = f.with_suffix(".bad")
    bad.write_bytes(bytes(data))
    with pytest.raises(ReadProblem, match="damaged header"):
        read_frames(bad)
    r = capped("info", str(bad))
    assert_handled(r)


def test_element_length_beyond_the_file_allocates_nothing(tmp_path: Path) -> None:
    # an element claiming 2 GiB in a 6 KiB file: pydicom's read(length) would allocate it
    f = write_ct_series(tmp_path / "in", n_slices=1)[0]
    data = bytearray(f.read_bytes())
    at = data.index(b"\x10\x00\x10\x00PN")
    data[at : at + 8] = b"\x09\x00\x10\x10OB\0\0"
    data[at + 8 : at + 8] = b"\xf0\xff\xff\x7f"
    f.write_bytes(bytes(data))
    r = capped("info", str(f), memory=700 << 20)
    assert_handled(r)
    assert str(f) in r.stderr


def test_far_more_pixel_data_than_the_size_needs_is_named(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=3)
    for f in files:  # 64x48 pixels stored, the header says 1 column
        ds = dcmread(f)
        ds.Columns = 1
        ds.save_as(f)
    r = capped("info", str(tmp_path / "in"))
    assert r.returncode == 0, r.stderr
    assert (
        "in 3 image(s) (e.g. " in r.stdout
        and "pixel data holds 6144 bytes, 64x what Rows x Columns (48x1) x 1 frame(s) need"
        in r.stdout
    ), r.stdout
