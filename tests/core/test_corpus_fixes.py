"""What the sweep over pydicom's files (test_corpus_sweep.py) found, pinned with the numbers
an independent reading of the headers gives: the RT Dose grid's planes, and palette colour
from a big-endian file and from a file without preamble or file meta."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest

from ownscan.core import assemble


def _file(name: str) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(pydicom.data.get_testdata_file(name, download=False))


@pytest.mark.parametrize("name", ["rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm"])
def test_rt_dose_planes_lie_at_the_grid_frame_offsets(name: str) -> None:
    # PS3.3 C.8.8.3.2: frame k lies Grid Frame Offset Vector[k] mm along the normal (row x
    # column) from the Image Position (relative offsets: the first is 0). Before: 15
    # "repetition volumes" at one position, and load() gave only the first plane.
    ds = pydicom.dcmread(_file(name), stop_before_pixels=True)
    offsets = [float(x) for x in ds.GridFrameOffsetVector]
    assert offsets[0] == 0 and len(offsets) == int(ds.NumberOfFrames) == 15
    iop = np.array(ds.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ipp = np.array(ds.ImagePositionPatient, float)

    found = assemble([_file(name)])
    assert len(found.series) == 1
    s = found.series[0]
    assert s.n_volumes == 1 and s.shape == (15, 10, 10)
    assert not [w for w in s.warnings if "frame order" in w or "not known" in w], s.warnings
    vol = s.load()
    np.testing.assert_allclose(vol.spacing[2], offsets[1] - offsets[0])
    for k in (0, 7, 14):  # each plane where the header puts it
        centre = vol.origin + vol.direction @ (np.array([0.0, 0.0, k]) * vol.spacing)
        np.testing.assert_allclose(centre, ipp + offsets[k] * normal, atol=1e-4)
    ref = pydicom.dcmread(_file("rtdose.dcm")).pixel_array
    # frame order = offset order here; the values are dose, stored x Dose Grid Scaling
    # (test_truth5_rtdose.py)
    np.testing.assert_allclose(vol.voxels, ref * float(ds.DoseGridScaling), rtol=1e-6)


def test_big_endian_palette_colour_equals_the_little_endian_copy() -> None:
    # pydicom 3.0's apply_color_lut reads 16-bit palette entries in the machine's order: the
    # big-endian copy came out black (every entry byte-swapped, then cut to 8 bits)
    for little, big in (
        ("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),
        ("OBXXXX1A_2frame.dcm", "OBXXXX1A_expb_2frame.dcm"),
        ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"),  # segmented LUT
    ):
        a = assemble([_file(little)]).series[0].load().voxels
        b = assemble([_file(big)]).series[0].load().voxels
        assert a.max() > 0 and a.dtype == np.uint8 and a.shape[-1] == 3
        np.testing.assert_array_equal(a, b)


def test_palette_colour_without_file_meta_decodes() -> None:
    # OT-PAL-8-face.dcm: implicit VR with neither preamble nor file meta. The header reader
    # takes it; the palette decode asked pydicom without force and failed: "no image could
    # be decoded". Now: the face, as the 8-bit palette maps it (entries checked by hand)
    ds = pydicom.dcmread(_file("OT-PAL-8-face.dcm"), force=True)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    stored = ds.pixel_array.astype(np.int64)
    vol = assemble([_file("OT-PAL-8-face.dcm")]).series[0].load()
    assert vol.voxels.shape == (1, 480, 640, 3)
    entries, first, _ = ds.RedPaletteColorLookupTableDescriptor
    # PS3.3 C.7.6.3.1.5: values below the first mapped one take entry 0, above the last the
    # last; 16-bit entries, shown as their top 8 bits
    index = np.clip(stored - first, 0, entries - 1)
    expect = np.stack(
        [
            np.frombuffer(ds[f"{c}PaletteColorLookupTableData"].value, "<u2")[index] >> 8
            for c in ("Red", "Green", "Blue")
        ],
        axis=-1,
    )
    assert expect.max() > 0
    np.testing.assert_array_equal(vol.voxels[0], expect.astype(np.uint8))
