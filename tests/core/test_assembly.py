"""Series assembly: grouping, sorting and the warnings it must give (generated CT series)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ctgen import write_ct_series
from niicompare import canonical, dcm2niix, ownscan_export
from pydicom import dcmread
from pydicom.uid import generate_uid

from ownscan.core import SourceItem, assemble, load_volume


def _one(folder: Path):
    found = assemble(folder)
    assert not found.errors, found.errors
    vols = found.volumes()
    assert len(vols) == 1, found.series
    return vols[0]


def test_sorting_ignores_names_and_instance_numbers(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", shuffle_names=True, reverse_instances=True)
    s = _one(tmp_path / "a")
    assert s.files == [str(f) for f in files]  # feet -> head along the normal
    assert s.warnings == []
    vol = s.load()
    assert vol.voxels.dtype == np.int16 and vol.units == "HU"
    first = dcmread(files[0])
    np.testing.assert_array_equal(vol.voxels[0], first.pixel_array.astype(np.int32) - 1024)
    assert vol.origin == pytest.approx([float(v) for v in first.ImagePositionPatient])
    assert [w.name for w in vol.windows] == ["SOFT TISSUE", "LUNG"]


def test_irregular_spacing_warns(tmp_path: Path) -> None:
    pos = [0, 2.5, 5.0, 8.0, 10.5, 13.0, 15.5, 18.0]
    write_ct_series(tmp_path / "a", positions=pos)
    s = _one(tmp_path / "a")
    assert any("irregular slice spacing" in w for w in s.warnings), s.warnings
    assert s.n_images == len(pos)


def test_missing_slices_warn(tmp_path: Path) -> None:
    pos = [k * 2.5 for k in range(10) if k not in (4, 5)]
    write_ct_series(tmp_path / "a", positions=pos)
    s = _one(tmp_path / "a")
    assert any("missing slices: about 2 slice(s)" in w for w in s.warnings), s.warnings


def test_duplicate_positions_warn_and_keep_one(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=6)
    ds = dcmread(files[2])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.InstanceNumber = 50
    ds.save_as(tmp_path / "a" / "copy.dcm")
    s = _one(tmp_path / "a")
    assert s.n_images == 6
    assert any("duplicate positions: 1 image(s)" in w for w in s.warnings), s.warnings


def test_exact_copy_of_a_file_is_skipped_quietly(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=4)
    shutil.copy(files[1], tmp_path / "a" / "again.dcm")
    found = assemble(tmp_path / "a")
    assert [s.n_images for s in found.series] == [4] and found.series[0].warnings == []
    assert [p.reason for p in found.skipped] == ["the same instance was already read (a copy)"]


def test_mixed_sizes_split_with_warning(tmp_path: Path) -> None:
    uid, frame = generate_uid(), generate_uid()
    write_ct_series(tmp_path / "a", n_slices=5, series_uid=uid, frame_uid=frame, prefix="A")
    write_ct_series(
        tmp_path / "a",
        n_slices=3,
        rows=32,
        cols=32,
        series_uid=uid,
        frame_uid=frame,
        prefix="B",
        origin=(0, 0, 50),
    )
    found = assemble(tmp_path / "a")
    assert sorted(s.n_images for s in found.series) == [3, 5]
    for s in found.series:
        assert any("split into 2 stacks (mixed image sizes" in w for w in s.warnings)
    assert len({s.label for s in found.series}) == 2


def test_localizer_is_its_own_2d_series(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=6)
    ds = dcmread(files[0])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.save_as(tmp_path / "a" / "scout.dcm")
    found = assemble(tmp_path / "a")
    kinds = sorted((s.kind, s.n_images) for s in found.series)
    assert kinds == [("localizer", 1), ("volume", 6)]
    vol = found.volumes()[0]
    assert vol.warnings == []
    loc = next(s for s in found.series if s.kind == "localizer").load()
    assert loc.is_2d and "localizer" in loc.extra["label"]


def test_gantry_tilt_resampled_like_dcm2niix(tmp_path: Path) -> None:
    """A tilt whose shear is exactly one row per slice: the resampled grid (shape, affine)
    equals dcm2niix's tilt-corrected output, and each slice is its stored image moved by a
    whole number of rows (so no interpolation blurs the comparison)."""
    tilt = math.degrees(math.atan(0.8 / 2.5))  # 0.8 mm rows, 2.5 mm slices
    files = write_ct_series(tmp_path / "in", n_slices=8, tilt_deg=tilt)
    s = _one(tmp_path / "in")
    assert any(w.startswith("gantry tilt of 17.74 degrees") for w in s.warnings), s.warnings
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = [p for p in dcm2niix(tmp_path / "in", tmp_path / "d") if "Tilt" in p.name]
    assert len(ours) == 1 and len(theirs) == 1
    a, aff_a = canonical(ours[0])
    b, aff_b = canonical(theirs[0])
    assert a.shape == b.shape == (64, 48 + 7, 8)
    np.testing.assert_allclose(aff_a, aff_b, atol=0.01)
    vol = s.load()
    assert vol.shape == (8, 55, 64)
    for k, f in enumerate(files):
        hu = dcmread(f).pixel_array.astype(np.int32) - 1024
        # slice k drifts k rows along +column direction; the grid starts at slice 0's row 0
        np.testing.assert_array_equal(vol.voxels[k, k : k + 48], hu)
        assert (vol.voxels[k, :k] == -1024).all() and (vol.voxels[k, k + 48 :] == -1024).all()


def test_multiframe_enhanced_equals_single_frame(tmp_path: Path) -> None:
    from mfgen import enhanced_from_single

    files = write_ct_series(
        tmp_path / "single",
        n_slices=7,
        shuffle_names=True,
        iop=(0.9659258, 0.2588190, 0, -0.2588190, 0.9659258, 0),
    )
    (tmp_path / "multi").mkdir()
    enhanced_from_single(files, tmp_path / "multi" / "enhanced.dcm", shuffle=True)
    single = load_volume(tmp_path / "single")
    multi_series = _one(tmp_path / "multi")
    assert multi_series.n_images == 7 and multi_series.files == [
        str(tmp_path / "multi" / "enhanced.dcm")
    ]
    multi = multi_series.load()
    np.testing.assert_array_equal(multi.voxels, single.voxels)
    np.testing.assert_allclose(multi.affine, single.affine, atol=1e-6)
    assert multi.voxels.dtype == single.voxels.dtype == np.int16
    # the same file with JPEG 2000 frames decodes to the same volume
    (tmp_path / "multi_j2k").mkdir()
    subprocess.run(
        [
            "gdcmconv",
            "--j2k",
            str(tmp_path / "multi" / "enhanced.dcm"),
            str(tmp_path / "multi_j2k" / "enhanced.dcm"),
        ],
        check=True,
    )
    j2k_series = _one(tmp_path / "multi_j2k")
    assert j2k_series.transfer_syntaxes == ["JPEG 2000 Image Compression (Lossless Only)"]
    j2k = j2k_series.load()
    np.testing.assert_array_equal(j2k.voxels, single.voxels)
    np.testing.assert_allclose(j2k.affine, single.affine, atol=1e-6)
    # and dcm2niix agrees on the enhanced file
    ours = ownscan_export(tmp_path / "multi", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "multi", tmp_path / "d")
    from niicompare import compare

    compare(ours[0], theirs[0])


def test_items_in_memory_equal_files(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=5)
    from_files = load_volume(tmp_path / "a")
    items = [SourceItem(origin=f"zip!{f.name}", data=f.read_bytes()) for f in reversed(files)]
    from_bytes = load_volume(items)
    from_datasets = load_volume([dcmread(f) for f in files[::-1]])
    for v in (from_bytes, from_datasets):
        np.testing.assert_array_equal(v.voxels, from_files.voxels)
        np.testing.assert_allclose(v.affine, from_files.affine)


def test_two_series_two_volumes(tmp_path: Path) -> None:
    study = generate_uid()
    write_ct_series(tmp_path / "a", n_slices=4, series_number=7, study_uid=study, prefix="A")
    write_ct_series(tmp_path / "a", n_slices=3, series_number=2, study_uid=study, prefix="B")
    found = assemble(tmp_path / "a")
    assert [s.info.series_number for s in found.series] == [2, 7]
    with pytest.raises(Exception, match="2 series found"):
        load_volume(tmp_path / "a")


def test_bogus_orientation_is_no_geometry_not_a_crash(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=5)
    ds = dcmread(files[4])
    ds.ImageOrientationPatient = [0, 0, 0, 0, 0, 0]
    ds.save_as(files[4])
    found = assemble(tmp_path / "a")
    assert sorted((s.kind, s.n_images) for s in found.series) == [("image", 1), ("volume", 4)]
    for s in found.series:
        assert s.load().voxels.size


def test_items_an_importer_refused_are_errors(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=3)
    items = [SourceItem(origin=str(f), path=f) for f in files]
    items.append(SourceItem(origin="x.zip!../../etc/passwd", problem="escapes its folder"))
    items.append(
        SourceItem(origin="x.zip!report.pdf", data=b"%PDF-1.4", media_type="application/pdf")
    )
    found = assemble(items)
    assert [s.n_images for s in found.series] == [3]
    assert [str(p) for p in found.errors] == ["x.zip!../../etc/passwd: escapes its folder"]
    assert [str(p) for p in found.skipped] == ["x.zip!report.pdf: not DICOM (application/pdf)"]


def test_missing_rows_is_an_error_naming_the_attribute(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "a", n_slices=4)
    ds = dcmread(files[0])
    del ds.Rows
    ds.save_as(files[0])
    found = assemble(tmp_path / "a")
    assert [str(p) for p in found.errors] == [f"{files[0]}: Rows is missing"]
    assert [s.n_images for s in found.series] == [3]
