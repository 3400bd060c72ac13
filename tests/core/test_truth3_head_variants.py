"""The truth-3 classes made from the real oblique head MR (studyforrest, 40 central slices):
packed 12-bit pixel data, a legacy multi-frame file with one position and Spacing Between
Slices, an enhanced file whose orientation vectors are twice as long, and single files a
0.017 degree shear off perpendicular. Each is exported through the CLI and compared with
dcm2niix's NIfTI of the original files (voxels identical, affine within 0.01 mm, or within
the shift the warning states), and imported and rendered without error.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hostile import assert_handled, capped
from mfgen import enhanced_from_single
from niicompare import compare, dcm2niix
from test_truth3_packed12 import pack12

N = 40


@pytest.fixture(scope="module")
def head(mr_head_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """40 central slices of the head MR in slice order (along row x column), copied, and
    dcm2niix's NIfTI of them."""
    dss = [(pydicom.dcmread(f, stop_before_pixels=True), f) for f in mr_head_dir.iterdir()]
    iop = np.array(dss[0][0].ImageOrientationPatient, float)
    n = np.cross(iop[:3], iop[3:])
    order = sorted(dss, key=lambda t: float(np.dot(np.array(t[0].ImagePositionPatient, float), n)))
    tmp = tmp_path_factory.mktemp("head40")
    ref = tmp / "ref"
    ref.mkdir()
    for k, (_, f) in enumerate(order[172 : 172 + N]):
        shutil.copy(f, ref / f"{k:03d}.dcm")
    (theirs,) = dcm2niix(ref, tmp / "theirs")
    return ref, theirs


def _through_the_cli(folder: Path, theirs: Path, tmp: Path, atol_mm: float = 0.01) -> str:
    r = capped("info", str(folder))
    assert r.returncode == 0, r.stderr
    assert f"MR volume 274x384x{N}" in r.stdout, r.stdout
    out = tmp / "ours"
    r = capped("export", str(folder), "-o", str(out), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    (ours,) = sorted(out.glob("*.nii"))
    compare(ours, theirs, atol_mm=atol_mm)
    for cmd in (
        ["import", str(folder), "--library", str(tmp / "lib")],
        ["render", str(folder), "-o", str(tmp / "r.png"), "--backend", "cpu"],
    ):
        r = capped(*cmd)
        assert_handled(r)
        assert r.returncode == 0, (cmd, r.stderr)
    return str(capped("info", str(folder)).stdout)


def test_head_packed_12_bit(head: tuple[Path, Path], tmp_path: Path) -> None:
    ref, theirs = head
    folder = tmp_path / "in"
    folder.mkdir()
    for f in sorted(ref.iterdir()):
        ds = pydicom.dcmread(f)
        values = ds.pixel_array.astype(np.int32)
        assert values.min() >= -2048 and values.max() <= 2047  # fits 12 signed bits
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 12, 12, 11
            ds.PixelData = pack12(values)
            ds["PixelData"].VR = "OW"
        ds.save_as(folder / f.name)
    _through_the_cli(folder, theirs, tmp_path)


def test_head_legacy_multiframe_with_spacing(head: tuple[Path, Path], tmp_path: Path) -> None:
    ref, theirs = head
    dss = [pydicom.dcmread(f) for f in sorted(ref.iterdir())]
    ds = dss[0]
    ds.NumberOfFrames = N
    ds.PixelData = b"".join(d.PixelData for d in dss)
    folder = tmp_path / "in"
    folder.mkdir()
    ds.save_as(folder / "mf.dcm")
    said = _through_the_cli(folder, theirs, tmp_path)
    assert "which way the slices run is not recorded" in said, said


def test_head_enhanced_with_doubled_vectors(head: tuple[Path, Path], tmp_path: Path) -> None:
    ref, theirs = head
    work = tmp_path / "work"
    work.mkdir()
    for f in sorted(ref.iterdir()):  # the builder copies a window into the shared groups
        ds = pydicom.dcmread(f)
        ds.WindowCenter, ds.WindowWidth = "100", "200"
        ds.save_as(work / f.name)
    folder = tmp_path / "in"
    folder.mkdir()
    enhanced_from_single(sorted(work.iterdir()), folder / "enh.dcm")
    e = pydicom.dcmread(folder / "enh.dcm")
    po = e.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
    po.ImageOrientationPatient = [f"{2 * float(v):.12g}" for v in po.ImageOrientationPatient]
    e.save_as(folder / "enh.dcm")
    said = _through_the_cli(folder, theirs, tmp_path)
    assert "lengths 2 and 2, not 1: their directions are used" in said, said


def test_head_slightly_sheared(head: tuple[Path, Path], tmp_path: Path) -> None:
    """Columns 3e-4 (0.017 degree) off perpendicular over 274x384 pixels: corrected with a
    warning (0.07 mm), dcm2niix's voxels, its affine within that."""
    ref, theirs = head
    folder = tmp_path / "in"
    folder.mkdir()
    for f in sorted(ref.iterdir()):
        ds = pydicom.dcmread(f)
        v = np.array(ds.ImageOrientationPatient, float)
        v[3:] += 3e-4 * v[:3]
        ds.ImageOrientationPatient = [f"{x:.12g}" for x in v]
        ds.save_as(folder / f.name)
    said = _through_the_cli(folder, theirs, tmp_path, atol_mm=0.1)
    assert "made perpendicular, which moves pixels by up to 0.07 mm" in said, said
