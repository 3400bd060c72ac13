"""Real World Value Mapping (0040,9096): one mapping per volume, never a silent mix.

Applied where it is the only quantitative mapping (no rescale: Philips MR and PET write their
slope there), with its units; where the rescale agrees, the rescale with the mapping's units;
where they differ, the rescale (what a viewer shows) with a warning naming the mapping not
applied; a LUT-only mapping is said, not applied.

Oracle: dcm2niix (1.0.20220720, run here) applies the mapping of a Philips file without a
rescale as we do. Where the two differ it takes the rescale's slope with the mapping's
intercept (a mix this rule refuses), so there the test holds the rescale's values instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from niicompare import canonical, dcm2niix, ownscan_export
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ownscan.core import assemble


def _mr_with_mapping(
    folder: Path,
    *,
    rescale: tuple[float, float] | None = None,
    mapping: tuple[float, float, str] = (2.5, -10.0, "ms"),
    lut: bool = False,
) -> np.ndarray:
    """A Philips-like MR (unsigned, no rescale unless given) carrying a Real World Value
    Mapping; returns the stored values (slices, rows, columns) in file order."""
    write_ct_series(folder, n_slices=3)
    stored = []
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        sv = np.clip(np.frombuffer(ds.PixelData, np.int16).astype(np.int64), 0, 4000)
        ds.PixelData = sv.astype(np.uint16).tobytes()
        stored.append(sv.reshape(ds.Rows, ds.Columns))
        ds.PixelRepresentation, ds.Modality = 0, "MR"
        ds.Manufacturer = "Philips Medical Systems"
        del ds.RescaleIntercept, ds.RescaleSlope
        if "RescaleType" in ds:
            del ds.RescaleType
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = f"{rescale[0]:g}", f"{rescale[1]:g}"
        item = Dataset()
        if lut:
            item.RealWorldValueLUTData = [0.0, 1.0]
        else:
            item.RealWorldValueSlope, item.RealWorldValueIntercept = mapping[:2]
        item.RealWorldValueFirstValueMapped, item.RealWorldValueLastValueMapped = 0, 4095
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = mapping[2], "UCUM", "x"
        item.MeasurementUnitsCodeSequence = Sequence([code])
        ds.RealWorldValueMappingSequence = Sequence([item])
        ds.save_as(f)
    return np.stack(stored)


@pytest.mark.parametrize("rescale", [None, (2.5, -10.0)], ids=["no-rescale", "same-rescale"])
def test_the_only_mapping_is_applied_with_its_units(
    rescale: tuple[float, float] | None, tmp_path: Path
) -> None:
    stored = _mr_with_mapping(tmp_path / "in", rescale=rescale)
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    assert vol.units == "ms"
    np.testing.assert_allclose(np.sort(vol.voxels.ravel()), np.sort(stored.ravel() * 2.5 - 10))
    said = [w for w in s.warnings if "Real World Value Mapping" in w]
    assert bool(said) == (rescale is None)  # applied in place of a rescale: said
    theirs = canonical(dcm2niix(tmp_path / "in", tmp_path / "d")[0])[0]
    ours = canonical(ownscan_export(tmp_path / "in", tmp_path / "o")[0])[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_a_mapping_that_differs_from_the_rescale_is_said_not_mixed(tmp_path: Path) -> None:
    stored = _mr_with_mapping(tmp_path / "in", rescale=(1.5, 0.0))
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    assert vol.units != "ms"
    np.testing.assert_allclose(np.sort(vol.voxels.ravel()), np.sort(stored.ravel() * 1.5))
    (w,) = [w for w in s.warnings if "Real World Value Mapping" in w]
    assert "is not applied" in w and "units ms" in w and "Rescale Slope 1.5" in w


def test_a_lut_mapping_is_said_not_applied(tmp_path: Path) -> None:
    stored = _mr_with_mapping(tmp_path / "in", lut=True)
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    np.testing.assert_array_equal(np.sort(vol.voxels.ravel()), np.sort(stored.ravel()))
    assert any("given as a LUT is not applied" in w for w in s.warnings)


def test_an_enhanced_file_s_per_frame_mapping_is_each_frame_s(tmp_path: Path) -> None:
    """Enhanced MR: the mapping sits in each frame's functional group, its slope differing
    per frame, and there is no Pixel Value Transformation: each frame gets its own."""
    from mfgen import enhanced_from_single

    stored = _mr_with_mapping(tmp_path / "single", rescale=(1.0, 0.0))
    files = sorted((tmp_path / "single").glob("*.dcm"))
    (tmp_path / "in").mkdir()
    out = tmp_path / "in" / "enhanced.dcm"
    enhanced_from_single(files, out)
    ds = pydicom.dcmread(out)
    slopes = [2.0 + 0.5 * k for k in range(len(files))]
    for k, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        del item.PixelValueTransformationSequence
        rw = Dataset()
        rw.RealWorldValueSlope, rw.RealWorldValueIntercept = slopes[k], -10.0
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "ms", "UCUM", "ms"
        rw.MeasurementUnitsCodeSequence = Sequence([code])
        item.RealWorldValueMappingSequence = Sequence([rw])
    ds.save_as(out)
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    assert vol.units == "ms"
    want = [stored[k] * slopes[k] - 10 for k in range(len(files))]
    for z in range(vol.voxels.shape[0]):
        assert any(np.allclose(vol.voxels[z], w) for w in want), z
    assert len({float(np.abs(vol.voxels[z]).max()) for z in range(len(files))}) == len(files)
