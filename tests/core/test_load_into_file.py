"""Decoding straight into a file (``Series.load(out=VoxelFile(...))``) and the NIfTI export
built on it: the same voxels as a load into memory, the same bytes as ``nibabel.save``, and
no partial file under a final name when an export fails."""

from __future__ import annotations

import math
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from ctgen import make_ct_dataset, write_ct_series
from niicompare import gdcm_transcode
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid

from ownscan.core import assemble
from ownscan.core.assembly import VoxelFile
from ownscan.core.cli import main
from ownscan.plugins._output import recorded_warnings
from ownscan.plugins.nifti import NiftiExporter, _comment_room, to_nifti


def _rewrite(files: list[Path], **values: object) -> None:
    for f in files:
        ds = dcmread(f)
        for key, value in values.items():
            setattr(ds, key, value)
        ds.save_as(f)


def _unsigned_full_range(folder: Path) -> None:
    """Unsigned 16-bit stored values beyond what int16 holds after the rescale: the int16
    plan overflows in the last frame and the load starts again in int32."""
    files = write_ct_series(folder, n_slices=12, rows=16, cols=24)
    for k, f in enumerate(files):
        ds = dcmread(f)
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 0
        stored = np.full((16, 24), 1000 + k, dtype=np.uint16)
        if k == len(files) - 1:
            stored[3, 4] = 65535
        ds.PixelData = stored.tobytes()
        ds.save_as(f)


def _damaged_j2k(folder: Path, tmp: Path) -> None:
    """JPEG 2000 frames (a process pool decodes them), one with a broken codestream."""
    write_ct_series(tmp / "raw", n_slices=20, rows=16, cols=24)
    gdcm_transcode(tmp / "raw", folder, ["gdcmconv", "--j2k"])
    victim = sorted(folder.iterdir())[7]
    ds = dcmread(victim)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 40])
    ds.save_as(victim)


def _make(kind: str, tmp: Path) -> Path:
    src = tmp / kind
    if kind == "int16_checked":  # signed 16 bits, intercept -1024: checked per frame
        write_ct_series(src, n_slices=10, rows=16, cols=24)
    elif kind == "uint16_no_rescale":
        files = write_ct_series(src, n_slices=10, rows=16, cols=24, signed=False)
        _rewrite(files, RescaleIntercept="0")
    elif kind == "int32_retry":
        _unsigned_full_range(src)
    elif kind == "float_rescale":
        files = write_ct_series(src, n_slices=10, rows=16, cols=24)
        _rewrite(files, Modality="MR", RescaleSlope="0.25", RescaleIntercept="-3.5")
    elif kind == "tilt":
        write_ct_series(src, n_slices=8, tilt_deg=math.degrees(math.atan(0.8 / 2.5)))
    elif kind == "j2k_pool":
        write_ct_series(tmp / "raw", n_slices=20, rows=16, cols=24)
        gdcm_transcode(tmp / "raw", src, ["gdcmconv", "--j2k"])
    elif kind == "j2k_damaged":
        _damaged_j2k(src, tmp)
    elif kind == "big_endian":
        write_ct_series(tmp / "raw", n_slices=20, rows=16, cols=24)
        gdcm_transcode(tmp / "raw", src, ["dcmconv", "+tb"])
    else:
        raise AssertionError(kind)
    return src


KINDS = [
    "int16_checked",
    "uint16_no_rescale",
    "int32_retry",
    "float_rescale",
    "tilt",
    "j2k_pool",
    "j2k_damaged",
    "big_endian",
]


@pytest.mark.parametrize("kind", KINDS)
def test_load_into_file_equals_load_in_memory(kind: str, tmp_path: Path) -> None:
    src = _make(kind, tmp_path)
    series = assemble(src).series[0]
    expected = series.load(workers=2)
    expected_errors = list(series.load_errors)
    header = b"H" * 352
    path = tmp_path / "out.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, header + b"junk after the header, shorter than the voxels")
        vol = series.load(workers=2, out=VoxelFile(fd, len(header)))
    finally:
        os.close(fd)
    assert series.load_errors == expected_errors
    assert (kind == "j2k_damaged") == bool(expected_errors)
    assert vol.voxels.dtype == expected.voxels.dtype
    assert vol.voxels.dtype == {"int32_retry": np.int32, "float_rescale": np.float32}.get(
        kind, np.uint16 if kind == "uint16_no_rescale" else np.int16
    )
    np.testing.assert_array_equal(vol.voxels, expected.voxels)
    data = path.read_bytes()
    assert data[: len(header)] == header
    assert data[len(header) :] == expected.voxels.tobytes()  # the file ends with the voxels


@pytest.mark.parametrize("kind", KINDS)
def test_export_into_file_same_bytes_as_nibabel_save(kind: str, tmp_path: Path) -> None:
    src = _make(kind, tmp_path)
    series = assemble(src).series[0]
    reference = tmp_path / "reference.nii"
    vol = series.load()
    # a series with warnings carries them in a comment extension padded to a room known
    # before the load (so that its voxels are still decoded in place)
    nib.save(to_nifti(vol, comment_bytes=_comment_room(recorded_warnings(vol))), reference)
    out = tmp_path / "out"
    written = NiftiExporter().export_series(series, out, {"uncompressed": True})
    assert written is not None and [p.parent for p in written] == [out]
    assert written[0].read_bytes() == reference.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [written[0].name]  # no temporary left
    # the volume path (export) writes the same bytes under the next free name
    again = NiftiExporter().export([series.load()], out, {"uncompressed": True})
    assert again[0].name == written[0].name.replace(".nii", "_2.nii")
    assert again[0].read_bytes() == reference.read_bytes()


def test_export_series_declines_compressed_and_colour(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "ct", n_slices=3, rows=8, cols=8)
    series = assemble(tmp_path / "ct").series[0]
    assert NiftiExporter().export_series(series, tmp_path / "o", {}) is None
    assert not (tmp_path / "o").exists()


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    """A series that cannot be decoded: an error naming it, nothing in the output folder."""
    for k in range(3):
        ds = make_ct_dataset(
            np.zeros((4, 4), dtype=np.int16),
            ipp=(0, 0, k),
            iop=(1, 0, 0, 0, 1, 0),
            pixel_spacing=(1.0, 1.0),
            thickness=1.0,
            series_uid="1.2.3.4",
            study_uid="1.2.3",
            frame_uid="1.2.3.5",
            instance_number=k + 1,
        )
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder
        ds.PixelData = encapsulate([b"\0\0\1\xb3" + b"\0" * 60])
        ds["PixelData"].VR = "OB"
        ds.save_as(tmp_path / f"v{k}.dcm", enforce_file_format=False)
    out = tmp_path / "new" / "out"
    rc = main(["export", str(tmp_path), "--output", str(out), "--uncompressed"])
    assert rc == 1
    assert not (tmp_path / "new").exists()  # not even the folders: as before the series was tried


def test_output_that_is_a_file_is_refused_as_before(tmp_path: Path, capsys) -> None:
    write_ct_series(tmp_path / "ct", n_slices=3, rows=8, cols=8)
    (tmp_path / "taken").write_bytes(b"a file")
    rc = main(
        ["export", str(tmp_path / "ct"), "--output", str(tmp_path / "taken"), "--uncompressed"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"ownscan export: error: {tmp_path / 'taken'}: --output must be a folder for the nifti "
        "format"
    )
    assert (tmp_path / "taken").read_bytes() == b"a file"


@pytest.mark.parametrize("workers", [1, 2])
def test_frames_lost_after_assembly_are_blank_in_the_file_too(tmp_path: Path, workers: int) -> None:
    """Native frames that cannot be read at load time (a file gone, a file cut short after
    the headers were read): blank (-1024) and named, in memory and in the file alike, among
    runs of good frames written together."""
    files = write_ct_series(tmp_path / "ct", n_slices=11, rows=16, cols=24)
    series = assemble(tmp_path / "ct").series[0]
    good = series.load(workers=workers)
    files[3].unlink()
    data = files[8].read_bytes()
    files[8].write_bytes(data[: len(data) - 100])
    expected = series.load(workers=workers)
    reasons = [p.reason for p in series.load_errors]
    assert [Path(p.origin).name for p in series.load_errors] == [files[3].name, files[8].name]
    assert reasons[0].startswith("cannot read") and "ends early" in reasons[1]
    assert (expected.voxels[[3, 8]] == -1024).all()
    keep = [k for k in range(11) if k not in (3, 8)]
    np.testing.assert_array_equal(expected.voxels[keep], good.voxels[keep])
    path = tmp_path / "out.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        vol = series.load(workers=workers, out=VoxelFile(fd, 352))
    finally:
        os.close(fd)
    assert [p.reason for p in series.load_errors] == reasons
    np.testing.assert_array_equal(vol.voxels, expected.voxels)
    assert path.read_bytes()[352:] == expected.voxels.tobytes()
