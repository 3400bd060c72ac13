"""RT Dose grids are dose: stored value x Dose Grid Scaling (3004,000E), in Dose Units.

PS3.3 C.8.8.3 defines the grid's dose as the stored value times Dose Grid Scaling, in Dose
Units (GY or RELATIVE). ownscan showed and exported the stored integers (pydicom's
``rtdose.dcm``: 795000..1254000 for a relative dose of 0.795..1.254). The oracle for the
values is pydicom's own decoding of the stored values times the header's scaling, computed
here in float64; for the geometry and the stored values, dcm2niix (which does not scale: its
NIfTI holds the integers, scl_slope unset).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from niicompare import canonical, dcm2niix, ownscan_export

from ownscan.core import assemble

RTDOSE = Path(pydicom.data.get_testdata_file("rtdose.dcm"))


def _dose(
    folder: Path,
    *,
    units: str | None = "GY",
    scaling: str | None = "0.0025",
    rescale: tuple[str, str] | None = None,
    name: str = "dose.dcm",
    big_endian: bool = False,
) -> tuple[Path, np.ndarray]:
    """pydicom's RT Dose grid (15 planes of 10x10, 32-bit unsigned) with ``units``,
    ``scaling`` and an optional Rescale Slope / Intercept; its stored values."""
    source = RTDOSE if not big_endian else Path(pydicom.data.get_testdata_file("rtdose_expb.dcm"))
    ds = pydicom.dcmread(source)
    stored = ds.pixel_array.astype(np.float64)
    for kw, value in (("DoseUnits", units), ("DoseGridScaling", scaling)):
        if value is None:
            if kw in ds:
                delattr(ds, kw)
        else:
            setattr(ds, kw, value)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    ds.save_as(out)
    return out, stored


def _one(path: Path):  # type: ignore[no-untyped-def]
    found = assemble([path])
    assert not found.errors and len(found.series) == 1, (found.errors, found.series)
    return found.series[0]


def test_pydicoms_rtdose_is_relative_dose_not_stored_integers() -> None:
    s = _one(RTDOSE)
    vol = s.load()
    ds = pydicom.dcmread(RTDOSE)
    want = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    np.testing.assert_allclose(vol.voxels, want, rtol=1e-6)  # float32 against float64
    assert float(vol.voxels.min()) > 0.79 and float(vol.voxels.max()) < 1.26
    assert vol.units == s.units == "relative"  # RELATIVE: no unit invented
    assert "relative dose" in s.describe() and "relative dose" in vol.describe()
    # the reference value is not in the file: said, on the series and on every output
    assert any("Dose Units RELATIVE" in w and "not Gy" in w for w in s.warnings), s.warnings
    assert any("Dose Units RELATIVE" in w for w in vol.warnings)


def test_gray_dose_read_by_the_scanner_and_by_pydicom_alike(tmp_path: Path) -> None:
    little, stored = _dose(tmp_path / "le")  # implicit little endian: the header scanner
    big, stored_be = _dose(tmp_path / "be", big_endian=True)  # big endian: pydicom reads it
    np.testing.assert_array_equal(stored, stored_be)
    for path in (little, big):
        s = _one(path)
        vol = s.load()
        np.testing.assert_allclose(vol.voxels, stored * 0.0025, rtol=1e-6)
        assert vol.units == s.units == "Gy" and vol.modality == "RTDOSE"
        assert "dose in Gy" in s.describe()
        assert not any("Dose" in w for w in s.warnings), s.warnings  # GY and a scaling: clear
        assert vol.units != "HU"


def test_a_rescale_beside_the_dose_grid_scaling_is_not_applied_twice(tmp_path: Path) -> None:
    # PS3.3 C.8.8.3: dose = stored x Dose Grid Scaling; a Rescale Slope of another value is
    # not applied (both would scale twice) and is named
    path, stored = _dose(tmp_path / "a", rescale=("2", "0"))
    s = _one(path)
    np.testing.assert_allclose(s.load().voxels, stored * 0.0025, rtol=1e-6)
    assert any(
        "Rescale Slope 2, Intercept 0" in w and "not applied" in w and "Dose Grid Scaling" in w
        for w in s.warnings
    ), s.warnings
    # a writer repeating the scaling as the rescale: the same dose, nothing to say
    path, stored = _dose(tmp_path / "b", rescale=("0.0025", "0"))
    s = _one(path)
    np.testing.assert_allclose(s.load().voxels, stored * 0.0025, rtol=1e-6)
    assert not any("Rescale" in w for w in s.warnings), s.warnings


def test_without_a_dose_grid_scaling_the_values_are_not_called_dose(tmp_path: Path) -> None:
    for folder, scaling, said in (
        ("absent", None, "no Dose Grid Scaling"),
        ("zero", "0", "no usable Dose Grid Scaling"),
        ("negative", "-1e-3", "no usable Dose Grid Scaling"),
        ("beyond float32", "1e35", "no usable Dose Grid Scaling"),
    ):
        path, stored = _dose(tmp_path / folder, scaling=scaling)
        s = _one(path)
        vol = s.load()
        np.testing.assert_array_equal(vol.voxels, stored)  # the stored integers, as they are
        assert vol.units == s.units == ""  # not Gy, and never HU
        assert "dose" not in s.describe()
        assert any(said in w and "not known to be dose in Gy" in w for w in s.warnings), (
            folder,
            s.warnings,
        )


def test_dose_units_missing_or_not_the_standards(tmp_path: Path) -> None:
    path, stored = _dose(tmp_path / "none", units=None)
    s = _one(path)
    np.testing.assert_allclose(s.load().voxels, stored * 0.0025, rtol=1e-6)
    assert s.units == ""
    assert any("without Dose Units" in w for w in s.warnings), s.warnings
    path, _ = _dose(tmp_path / "cgy", units="CGY")  # not a DICOM value: kept as written, said
    s = _one(path)
    assert s.units == "CGY"
    assert any("'CGY' is not one of the standard's" in w for w in s.warnings), s.warnings


def test_info_names_the_dose_unit(tmp_path: Path) -> None:
    path, _ = _dose(tmp_path / "gy")
    exe = [sys.executable, "-m", "ownscan.core.cli"]
    text = subprocess.run(
        [*exe, "info", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "RTDOSE volume 10x10x15 spacing 10x10x5 mm, dose in Gy" in text, text
    assert "HU" not in text
    out = subprocess.run(
        [*exe, "info", "--json", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["series"][0]["units"] == "Gy"
    text = subprocess.run(
        [*exe, "info", str(RTDOSE)], capture_output=True, text=True, check=True
    ).stdout
    assert "relative dose" in text and "Dose Units RELATIVE" in text, text


@pytest.mark.slow
def test_nifti_holds_the_dose_where_dcm2niix_holds_the_integers(tmp_path: Path) -> None:
    # dcm2niix (1.0.20220720) writes the stored integers of an RT Dose grid (no scaling, and
    # the planes 1 mm apart: test_corpus_fixes); ownscan writes the dose in Gy, float32
    _dose(tmp_path / "in")
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    a, _aff = canonical(ours[0])
    b, _ = canonical(theirs[0])
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b * 0.0025, rtol=1e-6)
    import nibabel as nib

    img = nib.load(ours[0])
    assert img.get_data_dtype() == np.float32
    assert bytes(img.header["descrip"]).rstrip(b"\0") == b"ownscan RTDOSE Gy"


def test_the_viewers_window_is_written_in_the_dose_units() -> None:
    # a relative dose grid's window (0.46 wide at 1.02) is not "W 0  L 1"
    from ownscan.core.viewer._words import window_text

    assert window_text(0.459, 1.0245, "relative") == "W 0.459  L 1.02 relative"
    assert window_text(30.0, 15.0, "Gy") == "W 30  L 15 Gy"
    assert window_text(400.0, 40.0, "HU") == "W 400  L 40"  # CT as before
    assert window_text(1500.4, -600.2, "HU") == "W 1500  L -600"
