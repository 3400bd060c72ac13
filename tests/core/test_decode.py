"""Pixel decoding: every codec in pydicom's real test files, lossless pairs decode identically,
lossy files match an independent decoder (GDCM), and the pixel-module corner cases."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ctgen import make_ct_dataset, write_ct_series
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid
from realdata import PYDICOM_FILES

from ownscan.core import UnsupportedTransferSyntax, assemble, load_volume

# the images among pydicom's files (liver.dcm is a segmentation: skipped, tested below)
SHARED = [name for name in PYDICOM_FILES if name != "liver.dcm"]
# files whose pixel data is losslessly compressed: GDCM's decoder must give the same values
LOSSLESS_SHARED = [
    "JPEG-LL.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "OBXXXX1A_rle.dcm",
    "bad_sequence.dcm",
    "explicit_VR-UN.dcm",
]


def _gdcm_raw(src: Path, dst: Path) -> Path:
    exe = shutil.which("gdcmconv")
    assert exe, "gdcmconv is not installed (Debian libgdcm-tools)"
    subprocess.run([exe, "--raw", str(src), str(dst)], check=True, capture_output=True)
    return dst


def _load_one(path: Path):
    found = assemble([path])
    assert not found.errors, found.errors
    assert len(found.series) == 1, found.series
    s = found.series[0]
    vol = s.load()
    assert s.load_errors == []
    return vol


@pytest.mark.parametrize("name", SHARED)
def test_shared_files_decode(pydicom_files: dict[str, Path], name: str) -> None:
    vol = _load_one(pydicom_files[name])
    assert vol.voxels.size > 0 and vol.voxels.dtype != np.float64
    assert vol.voxels.max() > vol.voxels.min()  # real content, not a blank


def test_segmentation_is_skipped_with_a_note(pydicom_files: dict[str, Path]) -> None:
    found = assemble([pydicom_files["liver.dcm"]])
    assert not found.series and not found.errors
    assert "segmentation" in found.skipped[0].reason


@pytest.mark.parametrize("name", LOSSLESS_SHARED)
def test_lossless_shared_equal_gdcm(
    pydicom_files: dict[str, Path], name: str, tmp_path: Path
) -> None:
    ours = _load_one(pydicom_files[name])
    ref = _load_one(_gdcm_raw(pydicom_files[name], tmp_path / name))
    np.testing.assert_array_equal(ours.voxels, ref.voxels)


def test_monochrome1_and_colour(pydicom_files: dict[str, Path]) -> None:
    cr = _load_one(pydicom_files["RG1_UNCR.dcm"])
    assert cr.invert and cr.modality == "CR" and cr.is_2d
    us = _load_one(pydicom_files["color3d_jpeg_baseline.dcm"])
    assert us.voxels.shape == (120, 480, 640, 3) and us.voxels.dtype == np.uint8
    pal = _load_one(pydicom_files["OBXXXX1A_rle.dcm"])
    assert pal.samples == 3 and pal.voxels.dtype == np.uint8


def test_lossy_pairs_close_to_uncompressed(pydicom_files: dict[str, Path]) -> None:
    for a, b, tol in (
        ("RG1_UNCR.dcm", "RG1_J2KI.dcm", 0.01),
        ("US1_UNCR.dcm", "US1_J2KI.dcm", 0.02),
    ):
        va = _load_one(pydicom_files[a]).voxels.astype(np.float64)
        vb = _load_one(pydicom_files[b]).voxels
        rel = np.abs(va - vb).mean() / (va.max() - va.min())
        assert rel < tol, (a, b, rel)


@pytest.fixture(scope="module")
def unsigned12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("u12")
    write_ct_series(folder, n_slices=4, signed=False)
    return folder


@pytest.mark.parametrize(
    ("codec", "tool", "exact"),
    [
        ("j2k_lossy", ["gdcmconv", "--j2k", "--lossy", "-r", "4"], True),
        ("jpegls_near", ["dcmcjpls", "+en"], True),
        ("jpeg_extended", ["dcmcjpeg", "+ee"], False),
    ],
)
def test_lossy_codecs_match_gdcm(
    unsigned12: Path, tmp_path: Path, codec: str, tool: list[str], exact: bool
) -> None:
    exe = shutil.which(tool[0])
    assert exe, f"{tool[0]} is not installed"
    orig = load_volume(unsigned12)
    (tmp_path / "c").mkdir()
    (tmp_path / "g").mkdir()
    for f in sorted(unsigned12.iterdir()):
        subprocess.run(
            [exe, *tool[1:], str(f), str(tmp_path / "c" / f.name)], check=True, capture_output=True
        )
        _gdcm_raw(tmp_path / "c" / f.name, tmp_path / "g" / f.name)
    ours = load_volume(tmp_path / "c")
    gdcm = load_volume(tmp_path / "g")
    diff = np.abs(ours.voxels.astype(np.int32) - gdcm.voxels)
    assert diff.max() <= (0 if exact else 1), diff.max()
    err = np.abs(ours.voxels.astype(np.int32) - orig.voxels)
    assert err.max() > 0 and err.mean() < 20  # lossy, but close to the original


def _single(tmp_path: Path, ds, name: str = "x.dcm"):
    ds.save_as(tmp_path / name, enforce_file_format=True)
    return _load_one(tmp_path / name)


def _ct(hu: np.ndarray, **kw):
    args = dict(
        ipp=(0, 0, 0),
        iop=(1, 0, 0, 0, 1, 0),
        pixel_spacing=(1.0, 1.0),
        thickness=1.0,
        series_uid=generate_uid(),
        study_uid=generate_uid(),
        frame_uid=generate_uid(),
        instance_number=1,
    )
    args.update(kw)
    return make_ct_dataset(hu, **args)


def test_bits_stored_below_allocated(tmp_path: Path) -> None:
    hu = np.array([[-1024, 0], [500, 3071]], dtype=np.int16)
    ds = _ct(hu, signed=False)  # 12 bits stored in 16
    raw = np.frombuffer(ds.PixelData, dtype=np.uint16) | 0xF000  # junk above bit 11
    ds.PixelData = raw.tobytes()
    np.testing.assert_array_equal(_single(tmp_path, ds).voxels[0], hu)
    # signed 12-bit values stored without sign extension in the high bits
    ds = _ct(hu)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.RescaleIntercept = "0"
    stored = np.array([[-2000, -1], [5, 2047]], dtype=np.int16)
    ds.PixelData = (stored.view(np.uint16) & 0x0FFF).tobytes()
    np.testing.assert_array_equal(_single(tmp_path, ds, "s.dcm").voxels[0], stored)


def test_padding_becomes_air(tmp_path: Path) -> None:
    hu = np.array([[-1000, 40], [1000, -3024]], dtype=np.int16)
    ds = _ct(hu, intercept=0)
    ds.PixelPaddingValue = -3024
    vol = _single(tmp_path, ds)
    np.testing.assert_array_equal(vol.voxels[0], [[-1000, 40], [1000, -1024]])


def test_float_rescale_and_int32_fallback(tmp_path: Path) -> None:
    ds = _ct(np.array([[0, 100], [200, 300]], dtype=np.int16), intercept=0)
    ds.RescaleSlope = "0.5"
    vol = _single(tmp_path, ds)
    assert vol.voxels.dtype == np.float32
    np.testing.assert_array_equal(vol.voxels[0], [[0, 50], [100, 150]])
    # unsigned 16 bits used in full: int16 cannot hold the rescaled values (an MR: a CT
    # above 32767 HU is read as signed, test_vendor3_sign.py)
    ds = _ct(np.zeros((2, 2), dtype=np.int16))
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 0
    ds.Modality = "MR"
    ds.PixelData = np.array([[0, 1024], [40000, 65535]], dtype=np.uint16).tobytes()
    vol = _single(tmp_path, ds, "u.dcm")
    assert vol.voxels.dtype == np.int32
    np.testing.assert_array_equal(vol.voxels[0], [[-1024, 0], [38976, 64511]])
    # ... but int16 where the values fit, even though the header would allow more
    ds.PixelData = np.array([[0, 1024], [2000, 4095]], dtype=np.uint16).tobytes()
    vol = _single(tmp_path, ds, "v.dcm")
    assert vol.voxels.dtype == np.int16


def test_unsupported_transfer_syntax_names_file_and_fix(tmp_path: Path) -> None:
    ds = _ct(np.zeros((4, 4), dtype=np.int16))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    ds.PixelData = encapsulate([b"\0\0\1\xb3" + b"\0" * 60])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "video.dcm"
    ds.save_as(path, enforce_file_format=False)
    found = assemble([path])
    with pytest.raises(
        UnsupportedTransferSyntax,
        match=r"video\.dcm: cannot decode transfer "
        r"syntax MPEG2 .*1\.2\.840\.10008\.1\.2\.4\.100.*gdcmconv",
    ):
        found.series[0].load()


STANDARD_SYNTAXES = [
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
]


@pytest.mark.parametrize("uid", STANDARD_SYNTAXES)
def test_every_standard_syntax_has_an_installed_decoder(uid: str) -> None:
    """What `pip install ownscan` installs has a decoder for every standard syntax (the voxels
    of files written by real encoders, HTJ2K by OpenJPH's ojph_compress included, are compared
    in tests/core/commands/test_bench_parts.py)."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    assert UID(uid).is_compressed
    dec = get_decoder(uid)
    assert dec.is_available, (uid, dec.missing_dependencies)


def test_decoding_while_other_threads_run(tmp_path: Path) -> None:
    """With threads alive (a viewer) the worker processes start by forkserver, not fork.
    20 frames: more than one group of 8, so a process pool decodes them."""
    import threading

    from niicompare import gdcm_transcode

    write_ct_series(tmp_path / "raw", n_slices=20, rows=16, cols=24)
    gdcm_transcode(tmp_path / "raw", tmp_path / "j2k", ["gdcmconv", "--j2k"])
    expected = load_volume(tmp_path / "raw")
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        found = assemble(tmp_path / "j2k")
        vol = found.series[0].load(workers=2)
    finally:
        stop.set()
        t.join()
    np.testing.assert_array_equal(vol.voxels, expected.voxels)


@pytest.mark.parametrize("workers", [1, 2])
def test_big_endian_with_one_worker_or_shared_workers(tmp_path: Path, workers: int) -> None:
    """Big endian frames decode to the same values in the parent (one worker: no pickling to
    swap the bytes) and in forked workers writing into the shared output."""
    from niicompare import gdcm_transcode

    write_ct_series(tmp_path / "raw", n_slices=20, rows=16, cols=24)
    gdcm_transcode(tmp_path / "raw", tmp_path / "be", ["dcmconv", "+tb"])
    expected = load_volume(tmp_path / "raw")
    vol = assemble(tmp_path / "be").series[0].load(workers=workers)
    np.testing.assert_array_equal(vol.voxels, expected.voxels)


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"])
def test_jpeg_ls_is_decoded_by_charls(uid: str) -> None:
    """JPEG-LS goes to CharLS (pyjpegls, a dependency), not libjpeg: pydicom's own first choice
    is 2.5-3.5x slower; the voxels of both are compared against dcmcjpls' files above."""
    from ownscan.core._pixels import _preferred_plugin

    assert _preferred_plugin(uid) == "pyjpegls"
    assert _preferred_plugin("1.2.840.10008.1.2.4.90") == ""  # others: pydicom's own choice
