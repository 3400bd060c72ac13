"""Packed 12-bit pixel data (Bits Allocated 12: ACR-NEMA and old scanners), against dcmtk and GDCM.

Each variant is made here from a generated CT series (tests/core/ctgen.py) by packing its
12-bit stored values two pixels in three bytes, the packing of PS3.5's retired Bits Allocated
12 (pixels fill 16-bit little-endian words from the low bit up). The oracles are run by the
test on the same files: GDCM (``gdcmraw -P``, the unpacked stored values) and dcmtk
(``dcm2pnm +opn 12``, its rendering with no VOI window: the stored value range mapped
linearly onto 0..4095). Geometry is compared with dcm2niix's NIfTI; its voxels are not, since
dcm2niix v1.0.20220720 unpacks the bytes in another order (its values match neither tool).
What is not read is refused in words naming the file: big endian packing and multi-frame data
whose frames hold an odd number of pixels.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped
from niicompare import canonical, dcm2niix

from ownscan.core import assemble

N_SLICES = 3


def pack12(values: np.ndarray) -> bytes:
    """12-bit values (the low 12 bits of each) packed two in three bytes, padded to even."""
    v = values.astype(np.uint32).ravel() & 0xFFF
    if len(v) % 2:
        v = np.append(v, 0)
    p1, p2 = v[0::2], v[1::2]
    out = np.empty((len(p1), 3), np.uint8)
    out[:, 0] = p1 & 0xFF
    out[:, 1] = (p1 >> 8) | ((p2 & 0x0F) << 4)
    out[:, 2] = p2 >> 4
    data = out.tobytes()
    return data + b"\0" if len(data) % 2 else data


def _packed(ds: pydicom.Dataset, signed: bool) -> np.ndarray:
    """Make ``ds`` packed 12-bit; returns the stored values it now holds (int)."""
    dt = np.int16 if ds.PixelRepresentation else np.uint16
    a = np.frombuffer(ds.PixelData, dt).astype(np.int32).reshape(ds.Rows, ds.Columns)
    if signed:  # HU straight (intercept 0), within what 12 signed bits hold
        a = np.clip(a + int(ds.RescaleIntercept), -2048, 2047)
        ds.RescaleIntercept, ds.PixelRepresentation = "0", 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 12, 12, 11
        ds.PixelData = pack12(a)
        ds["PixelData"].VR = "OW"
    return a


def make_packed(
    folder: Path, *, signed: bool = False, acr_nema: bool = False, rows: int = 48, cols: int = 64
) -> list[np.ndarray]:
    """A packed 12-bit CT series in ``folder``; the stored values of each file, in order."""
    files = write_ct_series(folder, n_slices=N_SLICES, rows=rows, cols=cols, signed=signed)
    stored = []
    for f in files:
        ds = pydicom.dcmread(f)
        stored.append(_packed(ds, signed))
        if acr_nema:  # no preamble, no file meta: a bare implicit VR little endian data set
            del ds.file_meta
            ds.save_as(f, implicit_vr=True, little_endian=True, enforce_file_format=False)
        else:
            ds.save_as(f)
    return stored


def _gdcm(f: Path, tmp: Path, shape: tuple[int, int], signed: bool) -> np.ndarray:
    exe = shutil.which("gdcmraw")
    assert exe, "gdcmraw is not installed (Debian libgdcm-tools; .ci/run installs it)"
    out = tmp / (f.name + ".raw")
    subprocess.run([exe, "-i", str(f), "-o", str(out), "-P"], check=True, capture_output=True)
    v = np.fromfile(out, "<u2")[: shape[0] * shape[1]].astype(np.int32) & 0xFFF
    if signed:
        v = np.where(v >= 2048, v - 4096, v)
    return v.reshape(shape)


def _dcmtk(f: Path, tmp: Path, signed: bool) -> np.ndarray:
    exe = shutil.which("dcm2pnm")
    assert exe, "dcm2pnm is not installed (Debian dcmtk; .ci/run installs it)"
    out = tmp / (f.name + ".pgm")
    args = [exe, "+opn", "12"] + (["-f"] if f.read_bytes()[128:132] != b"DICM" else [])
    subprocess.run([*args, str(f), str(out)], check=True, capture_output=True)
    t = out.read_text().split()
    assert t[0] == "P2" and t[3] == "4095", t[:4]
    cols, rows = int(t[1]), int(t[2])
    v = np.array(t[4:], np.int32).reshape(rows, cols)
    return v - 2048 if signed else v  # the stored range, -2048..2047 or 0..4095, onto 0..4095


VARIANTS = {
    "unsigned": {},
    "signed": {"signed": True},
    "acr-nema-implicit": {"acr_nema": True},
    "odd-pixel-count": {"rows": 45, "cols": 63},
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_packed12_equals_dcmtk_and_gdcm(name: str, tmp_path: Path) -> None:
    kw = VARIANTS[name]
    signed = bool(kw.get("signed"))
    folder = tmp_path / "in"
    stored = make_packed(folder, **kw)  # type: ignore[arg-type]
    files = sorted(folder.glob("*.dcm"))
    found = assemble(folder)
    assert not found.errors, found.errors
    (series,) = found.series
    vol = series.load()
    intercept = 0 if signed else -1024
    for k, f in enumerate(files):  # files are written feet to head: slice order
        ours = vol.voxels[k].astype(np.int32) - intercept
        assert np.array_equal(ours, stored[k]), f"{f.name}: not the values packed"
        if ours.size % 2 == 0:  # gdcmraw 3.0 aborts on an odd pixel count (dcmtk reads it)
            assert np.array_equal(ours, _gdcm(f, tmp_path, ours.shape, signed)), f"GDCM {f.name}"
        assert np.array_equal(ours, _dcmtk(f, tmp_path, signed)), f"dcmtk {f.name}"


def test_packed12_export_geometry_equals_dcm2niix(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    stored = make_packed(folder)
    r = capped("export", str(folder), "-o", str(tmp_path / "ours"), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    (ours,) = sorted((tmp_path / "ours").glob("*.nii"))
    (theirs,) = dcm2niix(folder, tmp_path / "theirs")
    a, aff_a = canonical(ours)
    b, aff_b = canonical(theirs)
    assert a.shape == b.shape
    np.testing.assert_allclose(aff_a, aff_b, atol=0.01, rtol=0)
    # the voxels are the packed values (HU), in NIfTI's axes (x, y, z) as written
    raw = np.asarray(nib.load(ours).dataobj)
    assert np.array_equal(raw.transpose(2, 1, 0).astype(np.int32) + 1024, np.stack(stored))
    r = capped("info", str(folder))
    assert r.returncode == 0 and "CT volume 64x48x3" in r.stdout, r.stdout + r.stderr


def test_packed12_big_endian_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_packed(folder)
    bad = sorted(folder.glob("*.dcm"))[1]
    subprocess.run(["dcmconv", "+tb", str(bad), str(bad)], check=True, capture_output=True)
    r = capped("info", str(folder))
    assert_handled(r)
    out = r.stdout + r.stderr
    assert str(bad) in out and "packed 12-bit pixel data (BitsAllocated 12)" in out, out
    assert "Explicit VR Big Endian" in out, out
    # the rest of the series is still there
    assert "2 image(s)" in r.stdout, r.stdout


def test_packed12_multiframe_odd_pixels_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_packed(folder, rows=45, cols=63)
    f = sorted(folder.glob("*.dcm"))[0]
    ds = pydicom.dcmread(f)
    values = np.zeros((2, 45, 63), np.int32)
    ds.NumberOfFrames = 2
    ds.PixelData = pack12(values) + b"\0" * 4  # two frames' bytes, were they byte aligned
    ds.save_as(f)
    r = capped("info", str(f))
    assert_handled(r)
    out = r.stdout + r.stderr
    assert str(f) in out and "frames of an odd number of pixels (2835)" in out, out


def test_packed12_multiframe_and_in_memory(tmp_path: Path) -> None:
    """Multi-frame packed data (even pixel count: frames start on a byte) read from a file
    and from a data set in memory give the same frames."""
    folder = tmp_path / "in"
    stored = make_packed(folder)
    files = sorted(folder.glob("*.dcm"))
    ds = pydicom.dcmread(files[0])
    ds.NumberOfFrames = N_SLICES
    ds.SpacingBetweenSlices = "2.5"
    ds.PixelData = b"".join(pack12(s) for s in stored)
    for f in files:
        f.unlink()
    one = folder / "mf.dcm"
    ds.save_as(one)
    for source in ([one], [pydicom.dcmread(one)]):
        (series,) = assemble(source).series
        vol = series.load()
        assert vol.voxels.shape == (N_SLICES, 48, 64)
        for k in range(N_SLICES):
            assert np.array_equal(vol.voxels[k].astype(np.int32) + 1024, stored[k])
