"""The declared sign (Pixel Representation) judged on stored values, whatever the rescale.

An unsigned-declared CT over two's-complement pixels was found only when its values passed
32767 HU once rescaled: with Rescale Slope 0.5 the padding (-2000 HU, stored as 63584) is
30768 HU, a possible value, and went through as bright metal. The judgement is now made on
the stored values (both ends of the 16-bit range occupied, nothing in the middle), so the
slope does not matter. The opposite mistake (signed declared over unsigned values past 32767)
is mended only when the values run on without a gap through 32767; else a warning.

Oracle: dcm2niix on the same pixels under the true header.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from niicompare import canonical, dcm2niix, ownscan_export

from ownscan.core import assemble


def _rewrite(folder: Path, *, intercept: float, slope: float, signed: bool) -> None:
    """Store the series' HU as ``(HU - intercept) / slope`` (16 bits, the given sign) with a
    padding column of -2000 HU."""
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        hu = np.frombuffer(ds.PixelData, np.int16).astype(np.float64) + float(ds.RescaleIntercept)
        hu = hu.reshape(ds.Rows, ds.Columns)
        hu[:, :2] = -2000
        sv = np.rint((hu - intercept) / slope).astype(np.int64)
        ds.PixelData = sv.astype(np.int16 if signed else np.uint16).tobytes()
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleIntercept, ds.RescaleSlope = f"{intercept:g}", f"{slope:g}"
        ds.save_as(f)


def _relabel(src: Path, dst: Path, representation: int) -> None:
    """The same bytes, with the other Pixel Representation."""
    dst.mkdir()
    for f in sorted(src.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.PixelRepresentation = representation
        ds.save_as(dst / f.name)


@pytest.mark.parametrize(
    ("intercept", "slope"),
    [(0, 0.5), (-1024, 0.5), (-1024, 0.25), (-500, 1)],
    ids=["half", "half-1024", "quarter-1024", "int-500"],
)
def test_unsigned_over_signed_found_whatever_the_slope(
    intercept: float, slope: float, tmp_path: Path
) -> None:
    write_ct_series(tmp_path / "true", n_slices=4)
    _rewrite(tmp_path / "true", intercept=intercept, slope=slope, signed=True)
    _relabel(tmp_path / "true", tmp_path / "lie", 0)
    (s,) = assemble(tmp_path / "lie").series
    vol = s.load()
    assert vol.voxels.min() < -1990  # the padding is -2000 HU again, not +30768
    assert any("Pixel Representation 0 (unsigned) cannot be true" in w for w in vol.warnings)
    assert str(tmp_path / "lie") in " ".join(vol.warnings)  # names the file
    # the independent reading of the honest header
    theirs = canonical(dcm2niix(tmp_path / "true", tmp_path / "d")[0])[0]
    ours = canonical(ownscan_export(tmp_path / "lie", tmp_path / "o")[0])[0]
    np.testing.assert_allclose(ours, theirs, atol=slope / 2 + 1e-3)


def test_genuinely_unsigned_ct_crossing_the_middle_keeps_its_header(tmp_path: Path) -> None:
    """Rescale Intercept -32768 with stored values around 32768: unsigned, and the values run
    through the middle of the 16-bit range; nothing is changed and nothing is said."""
    write_ct_series(tmp_path / "in", n_slices=3)
    for f in sorted((tmp_path / "in").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        hu = np.frombuffer(ds.PixelData, np.int16).astype(np.int64) - 1024
        ds.PixelData = (hu + 32768).astype(np.uint16).tobytes()
        ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 0, "-32768", "1"
        ds.save_as(f)
    vol = assemble(tmp_path / "in").series[0].load()
    want = canonical(dcm2niix(tmp_path / "in", tmp_path / "d")[0])[0]
    ours = canonical(ownscan_export(tmp_path / "in", tmp_path / "o")[0])[0]
    np.testing.assert_array_equal(ours, want)
    assert not any("Pixel Representation" in w for w in vol.warnings)


def test_only_65535_is_a_doubt_said_not_a_change(tmp_path: Path) -> None:
    """Stored 65535 beside small values: a saturated detector or -1; shown as declared, and
    the warning says why."""
    write_ct_series(tmp_path / "in", n_slices=3)
    for f in sorted((tmp_path / "in").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        sv = np.frombuffer(ds.PixelData, np.int16).astype(np.int64)
        sv = np.clip(sv, 0, 4095)
        sv[:3] = 65535
        ds.PixelData = sv.astype(np.uint16).tobytes()
        ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 0, "-1024", "0.5"
        ds.save_as(f)
    vol = assemble(tmp_path / "in").series[0].load()
    assert vol.voxels.max() == pytest.approx(0.5 * 65535 - 1024)
    assert any("may be untrue" in w and "65535" in w for w in vol.warnings)


def _mr(folder: Path, *, representation: int) -> None:
    """An MR-like series whose unsigned values run from 0 through 32767 to 45000."""
    write_ct_series(folder, n_slices=3)
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        sv = np.frombuffer(ds.PixelData, np.int16).astype(np.int64)
        sv = np.clip(sv, 0, None) * 45000 // max(1, int(sv.max()))
        sv[:450] = np.arange(0, 45000, 100)  # a ramp through 32767
        ds.PixelData = sv.astype(np.uint16).tobytes()
        ds.Modality = "MR"
        ds.PixelRepresentation = representation
        del ds.RescaleIntercept, ds.RescaleSlope
        ds.save_as(f)


def test_signed_over_unsigned_values_that_run_on_is_read_unsigned(tmp_path: Path) -> None:
    _mr(tmp_path / "true", representation=0)
    _relabel(tmp_path / "true", tmp_path / "lie", 1)
    vol = assemble(tmp_path / "lie").series[0].load()
    assert vol.voxels.min() >= 0 and vol.voxels.max() >= 44900
    assert any("Pixel Representation 1 (signed) cannot be true" in w for w in vol.warnings)
    theirs = canonical(dcm2niix(tmp_path / "true", tmp_path / "d")[0])[0]
    ours = canonical(ownscan_export(tmp_path / "lie", tmp_path / "o")[0])[0]
    np.testing.assert_array_equal(ours, theirs)


def test_signed_with_small_negatives_is_left_alone(tmp_path: Path) -> None:
    """A true signed CT (air at -1000, padding -2000, intercept 0): nothing said."""
    write_ct_series(tmp_path / "in", n_slices=3)
    _rewrite(tmp_path / "in", intercept=0, slope=1, signed=True)
    vol = assemble(tmp_path / "in").series[0].load()
    assert vol.voxels.min() == -2000
    assert not any("Pixel Representation" in w for w in vol.warnings)
