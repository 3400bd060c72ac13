"""Odd-vendor enhanced multi-frame files and padding values, against the single-frame series
they were made from and against dcm2niix.

* **Enhanced files of one frame** (Siemens XA and Philips write a series as one such file a
  slice): geometry and rescale are in the functional groups, never at the top level. They
  used to be read as classic files: every slice a 2D image without position or spacing, and
  CT values 1024 off (no Rescale Intercept).
* **What a writer left at the top level** of an enhanced file instead of in the functional
  groups (Image Orientation, Rescale Slope/Intercept): used for every frame, as dcm2niix
  does. They used to be ignored: frames without 3D position, CT values 1024 off.
* **Pixel Padding Value in the other VR** (GE writes -2000 of signed pixels as US 63536): the
  value is the pixels' 16 bits. It used to match no pixel, and the padding showed as -2000 HU
  instead of air.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
from ctgen import write_ct_series
from mfgen import enhanced_from_single
from niicompare import compare, dcm2niix, ownscan_export
from pydicom.uid import generate_uid

from ownscan.core import assemble, load_volume


def _only(folder: Path):
    found = assemble(folder)
    assert not found.errors, found.errors
    assert len(found.series) == 1, [(s.label, s.warnings) for s in found.series]
    return found.series[0]


def _same(folder: Path, single: Path) -> None:
    """The one series of ``folder`` loads to the volume of the single-frame ``single``."""
    s = _only(folder)
    vol = s.load()
    want = load_volume(single)
    assert vol.voxels.shape == want.voxels.shape
    np.testing.assert_array_equal(vol.voxels, want.voxels)
    np.testing.assert_allclose(vol.affine, want.affine, atol=1e-6)


def test_enhanced_files_of_one_frame_are_one_volume(tmp_path: Path) -> None:
    files = write_ct_series(
        tmp_path / "single", n_slices=6, iop=(0.9659258, 0.2588190, 0, -0.2588190, 0.9659258, 0)
    )
    out = tmp_path / "enhanced"
    out.mkdir()
    series_uid = generate_uid()
    for k, f in enumerate(files):
        enhanced_from_single([f], out / f"E{k}.dcm")
        ds = pydicom.dcmread(out / f"E{k}.dcm")
        ds.SeriesInstanceUID, ds.InstanceNumber = series_uid, k + 1
        assert "ImagePositionPatient" not in ds and "RescaleIntercept" not in ds
        ds.save_as(out / f"E{k}.dcm")
    s = _only(out)
    assert s.kind == "volume" and s.n_images == 6 and not s.warnings, s.warnings
    _same(out, tmp_path / "single")
    compare(ownscan_export(out, tmp_path / "ours")[0], dcm2niix(out, tmp_path / "theirs")[0])


def _enhanced(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    files = write_ct_series(tmp_path / "single", n_slices=5)
    out = tmp_path / "enhanced" / "mf.dcm"
    out.parent.mkdir()
    enhanced_from_single(files, out, shuffle=True)
    ds = pydicom.dcmread(out)
    edit(ds)
    ds.save_as(out)
    return out.parent


def test_orientation_at_the_top_level_of_an_enhanced_file(tmp_path: Path) -> None:
    def edit(ds: pydicom.Dataset) -> None:
        shared = ds.SharedFunctionalGroupsSequence[0]
        ds.ImageOrientationPatient = shared.PlaneOrientationSequence[0].ImageOrientationPatient
        del shared.PlaneOrientationSequence

    folder = _enhanced(tmp_path, edit)
    assert _only(folder).kind == "volume"
    _same(folder, tmp_path / "single")
    compare(ownscan_export(folder, tmp_path / "o")[0], dcm2niix(folder, tmp_path / "t")[0])


def test_rescale_at_the_top_level_of_an_enhanced_file(tmp_path: Path) -> None:
    def edit(ds: pydicom.Dataset) -> None:
        for item in ds.PerFrameFunctionalGroupsSequence:
            del item.PixelValueTransformationSequence
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"

    folder = _enhanced(tmp_path, edit)
    _same(folder, tmp_path / "single")
    compare(ownscan_export(folder, tmp_path / "o")[0], dcm2niix(folder, tmp_path / "t")[0])


def test_functional_groups_win_over_the_top_level(tmp_path: Path) -> None:
    """A stale top-level value (a copy of the first frame's) never overrides the frames'."""

    def edit(ds: pydicom.Dataset) -> None:
        ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.ImagePositionPatient = [0, 0, 0]
        frames = ds.PerFrameFunctionalGroupsSequence
        frames[0].PlaneOrientationSequence = copy.deepcopy(
            ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence
        )

    folder = _enhanced(tmp_path, edit)
    _same(folder, tmp_path / "single")


def test_padding_given_in_the_other_vr_is_air(tmp_path: Path) -> None:
    """Signed CT pixels padded with -2000, the value written as US 63536 (GE) or SS -2000:
    both are air (-1024 HU) where the pixels hold -2000; unsigned pixels padded with a
    negative SS value get the same treatment of their 16 bits."""
    got = {}
    for name, vr, value, signed in (
        ("us", "US", 63536, True),
        ("ss", "SS", -2000, True),
        ("unsigned", "SS", -2000, False),
    ):
        folder = tmp_path / name
        write_ct_series(folder, n_slices=3, signed=signed)
        for f in sorted(folder.glob("*.dcm")):
            ds = pydicom.dcmread(f)
            dtype = np.int16 if signed else np.uint16
            a = np.frombuffer(ds.PixelData, dtype).copy().reshape(ds.Rows, ds.Columns)
            a[:, :3] = np.array(-2000, np.int16).astype(dtype)  # the same 16 bits either way
            ds.PixelData = a.tobytes()
            ds.BitsStored, ds.HighBit = 16, 15  # every bit is the pixel's
            ds.add_new(0x00280120, vr, value)
            ds.save_as(f)
        vol = _only(folder).load()
        assert (vol.voxels[:, :, :3] == -1024).all(), (name, np.unique(vol.voxels[:, :, :3]))
        assert (vol.voxels[:, :, 3:] > -1024).any()
        got[name] = vol.voxels
    np.testing.assert_array_equal(got["us"], got["ss"])


def _magnitude_and_phase(out: Path, *, dimension_index: bool) -> None:
    """One Philips-style Enhanced MR file holding a magnitude and a phase volume at the same
    positions, told apart only by each frame's MR Image Frame Type (Frame Type and Complex
    Image Component); ``dimension_index`` keeps a Dimension Index that numbers them as
    "temporal" positions too (as Philips does), else they have no index at all."""
    from mfgen import _item, enhanced_mr_4d
    from pydicom.sequence import Sequence as DSequence

    enhanced_mr_4d(out, n_vols=2)
    ds = pydicom.dcmread(out)
    if not dimension_index:
        del ds.DimensionIndexSequence
    for item in ds.PerFrameFunctionalGroupsSequence:
        content = item.FrameContentSequence[0]
        v = content.DimensionIndexValues[2] - 1
        del content.TemporalPositionIndex
        if not dimension_index:
            del content.DimensionIndexValues
        item.MRImageFrameTypeSequence = DSequence([_item(
            FrameType=["ORIGINAL", "PRIMARY", "M_FFE" if v == 0 else "P_FFE", "NONE"],
            ComplexImageComponent=("MAGNITUDE", "PHASE")[v],
        )])  # fmt: skip
    ds.ImageType = ["ORIGINAL", "PRIMARY", "MIXED", "NONE"]
    ds.save_as(out)


def test_magnitude_and_phase_of_one_enhanced_file_are_two_series(tmp_path: Path) -> None:
    """They used to be one 4D series whose "volumes" were the magnitude and the phase (by
    the Dimension Index, or by frame order with a warning)."""
    from fourdgen import voxel_value

    for indexed in (True, False):
        folder = tmp_path / f"indexed_{indexed}"
        _magnitude_and_phase(folder / "mf.dcm", dimension_index=indexed)
        found = assemble(folder)
        assert len(found.series) == 2, [s.label for s in found.series]
        by_tag = {s.tag: s for s in found.series}
        assert set(by_tag) == {"", "ph"}, by_tag
        for tag, v in (("", 0), ("ph", 1)):
            s = by_tag[tag]
            assert s.n_volumes == 1 and s.shape == (4, 12, 10), (s.n_volumes, s.shape)
            vol = s.load()
            for z in range(4):
                np.testing.assert_array_equal(vol.voxels[z], voxel_value(v, z, 12, 10))
    # where dcm2niix splits them too (with the index), the files are equal
    folder = tmp_path / "indexed_True"
    ours = ownscan_export(folder, tmp_path / "ours")
    theirs = dcm2niix(folder, tmp_path / "theirs")
    assert [p.name.endswith("_ph.nii") for p in ours] == [False, True], ours
    assert [p.name.endswith("_ph.nii") for p in theirs] == [False, True], theirs
    for o, t in zip(ours, theirs, strict=True):
        compare(o, t)


def test_a_localizer_frame_of_an_enhanced_file_is_a_localizer(tmp_path: Path) -> None:
    """Frame Type LOCALIZER on one frame (CT Image Frame Type), the file's ImageType AXIAL:
    the frame is a localizer of its own, not the first slice of the volume."""
    from mfgen import _item
    from pydicom.sequence import Sequence as DSequence

    def edit(ds: pydicom.Dataset) -> None:
        for item in ds.PerFrameFunctionalGroupsSequence:
            kind = "LOCALIZER" if item is ds.PerFrameFunctionalGroupsSequence[0] else "AXIAL"
            item.CTImageFrameTypeSequence = DSequence(
                [_item(FrameType=["ORIGINAL", "PRIMARY", kind, "NONE"])]
            )

    folder = _enhanced(tmp_path, edit)
    kinds = sorted((s.kind, s.n_images) for s in assemble(folder).series)
    assert kinds == [("localizer", 1), ("volume", 4)], kinds
