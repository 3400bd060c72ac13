"""CT whose Pixel Representation lies about the sign (0, unsigned, over two's complement
pixels), against the same series with a true header.

Read as the header says, air (-1000 HU) becomes 64536 HU and the padding (-2000) 63536 HU:
white where black belongs, in a volume that dcm2niix and the old ``ownscan`` exported and
showed without a word. No CT holds values above 32767 HU (the extended scale ends near
31000), so such a volume is read as signed, with a warning naming the file. An unsigned CT
whose values are possible (extended scale, Rescale Intercept -8192) keeps its header's word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from niicompare import canonical, ownscan_export

from ownscan.core import assemble, load_volume


def _signed(folder: Path, intercept: int, slope: str) -> None:
    """Store the series' HU as signed ``(HU - intercept) / slope`` with a padding column of
    -2000 HU."""
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        hu = np.frombuffer(ds.PixelData, np.int16).astype(np.float64) + float(ds.RescaleIntercept)
        hu = hu.reshape(ds.Rows, ds.Columns)
        hu[:, :2] = -2000
        ds.PixelData = np.rint((hu - intercept) / float(slope)).astype(np.int16).tobytes()
        ds.RescaleIntercept, ds.RescaleSlope = str(intercept), slope
        ds.save_as(f)


@pytest.mark.parametrize(
    ("intercept", "slope"), [(0, "1"), (-1024, "1"), (0, "1.5")], ids=["stored", "int", "float"]
)
def test_unsigned_over_signed_ct_is_read_as_signed(
    intercept: int, slope: str, tmp_path: Path
) -> None:
    write_ct_series(tmp_path / "true", n_slices=4)
    _signed(tmp_path / "true", intercept, slope)
    (tmp_path / "lie").mkdir()
    for f in sorted((tmp_path / "true").glob("*.dcm")):  # the same pixels, said unsigned
        ds = pydicom.dcmread(f)
        ds.PixelRepresentation = 0
        ds.save_as(tmp_path / "lie" / f.name)
    want = load_volume(tmp_path / "true")
    assert want.voxels.min() < -1990  # the padding, as the honest header gives it
    (s,) = assemble(tmp_path / "lie").series
    vol = s.load()
    np.testing.assert_array_equal(vol.voxels, want.voxels)
    assert any("Pixel Representation 0 (unsigned) cannot be true" in w for w in vol.warnings)
    # the NIfTI written straight into its file says the same
    got = canonical(ownscan_export(tmp_path / "lie", tmp_path / "o")[0])[0]
    np.testing.assert_array_equal(
        got, canonical(ownscan_export(tmp_path / "true", tmp_path / "t")[0])[0]
    )


def test_possible_unsigned_ct_keeps_its_header(tmp_path: Path) -> None:
    """Extended scale: unsigned 16-bit with Rescale Intercept -8192, up to 30000 HU."""
    write_ct_series(tmp_path / "in", n_slices=3)
    for f in sorted((tmp_path / "in").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        hu = np.frombuffer(ds.PixelData, np.int16).astype(np.int32) - 1024
        hu[:5] = 30000  # metal
        ds.PixelData = (hu + 8192).astype(np.uint16).tobytes()
        ds.PixelRepresentation, ds.RescaleIntercept = 0, "-8192"
        ds.save_as(f)
    vol = assemble(tmp_path / "in").series[0].load()
    assert vol.voxels.max() == 30000 and vol.voxels.min() >= -1024
    assert not any("Pixel Representation" in w for w in vol.warnings)


def test_a_4d_ct_written_in_one_pass_is_mended_too(tmp_path: Path) -> None:
    """Two acquisitions at the same positions (a 4D CT): ``load_volumes`` into a file decodes
    them in one pass, and mends them as ``load`` does."""
    import os

    from pydicom.uid import generate_uid

    from ownscan.core.assembly import VoxelFile

    uids = {k: generate_uid() for k in ("series_uid", "study_uid", "frame_uid")}
    for acq in (1, 2):
        write_ct_series(tmp_path / "true", n_slices=3, prefix=f"a{acq}_", seed=acq, **uids)
    for f in (tmp_path / "true").glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.AcquisitionNumber = int(f.name[1])
        ds.save_as(f)
    _signed(tmp_path / "true", 0, "1")
    (tmp_path / "lie").mkdir()
    for f in sorted((tmp_path / "true").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.PixelRepresentation = 0
        ds.save_as(tmp_path / "lie" / f.name)
    (want_s,) = assemble(tmp_path / "true").series
    want = want_s.load_volumes()
    (s,) = assemble(tmp_path / "lie").series
    assert s.n_volumes == 2
    fd = os.open(tmp_path / "out.bin", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        got = s.load_volumes(out=VoxelFile(fd, 0))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.voxels, w.voxels)
            assert any("cannot be true" in x for x in g.warnings)
    finally:
        os.close(fd)
