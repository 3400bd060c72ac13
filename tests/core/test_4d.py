"""4D series (time, cardiac phases, diffusion, repeated acquisitions): assembly, loading,
NIfTI export against dcm2niix (shapes, affines, voxels, .bval/.bvec), and the grouping rules
that keep apart what dcm2niix keeps apart."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from ctgen import write_ct_series
from fourdgen import attrs, diffusion_table, voxel_value, write_4d_series
from niicompare import canonical, compare, dcm2niix, ownscan_export, world_bvecs
from pydicom import dcmread
from pydicom.uid import generate_uid

from ownscan.core import assemble

_OBLIQUE = (0.9848, 0.0, -0.1736, 0.0302, 0.9848, 0.1710)  # 10 degrees about y and x


def _dwi(table: list[tuple[float, tuple[float, float, float]]], private: bool = False):
    def set_it(ds, v: int, z: int) -> None:
        b, g = table[v]
        if private:  # Siemens' own tags, as older Siemens scanners write them
            block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
            block.add_new(0x0C, "IS", str(int(b)))
            block.add_new(0x0E, "FD", list(g))
        else:
            ds.DiffusionBValue = b
            ds.DiffusionGradientOrientation = list(g)

    return set_it


def _write(kind: str, folder: Path, n_vols: int = 4, iop=(1, 0, 0, 0, 1, 0)) -> dict:
    """Write one 4D series of ``kind``; returns what the assembly should find."""
    if kind == "temporal":
        write_4d_series(
            folder,
            n_vols=n_vols,
            iop=iop,
            per_volume=attrs(TemporalPositionIdentifier=lambda v: v + 1),
        )
        return {"name": "time", "source": "TemporalPositionIdentifier"}
    if kind == "trigger":
        write_4d_series(
            folder,
            n_vols=n_vols,
            iop=iop,
            per_volume=attrs(TriggerTime=lambda v: 40.0 * v, AcquisitionNumber=1),
        )
        return {
            "name": "cardiac phase",
            "source": "TriggerTime",
            "values": [40.0 * v for v in range(n_vols)],
        }
    if kind == "acquisition_time":
        write_4d_series(folder, n_vols=n_vols, iop=iop)
        return {
            "name": "time",
            "source": "AcquisitionTime",
            "values": [2.0 * v for v in range(n_vols)],
        }
    if kind == "acquisition_number":
        write_4d_series(
            folder, n_vols=n_vols, iop=iop, per_volume=attrs(AcquisitionNumber=lambda v: v + 1)
        )
        return {"name": "acquisition", "source": "AcquisitionNumber"}
    if kind in ("diffusion", "diffusion_private"):
        table = diffusion_table(n_vols)
        write_4d_series(
            folder, n_vols=n_vols, iop=iop, per_volume=_dwi(table, kind == "diffusion_private")
        )
        return {"name": "diffusion", "b": [b for b, _ in table], "g": [g for _, g in table]}
    raise AssertionError(kind)  # fmt: skip


KINDS = ["temporal", "trigger", "acquisition_time", "acquisition_number", "diffusion",
         "diffusion_private"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_volumes_are_kept_in_order(kind: str, tmp_path: Path) -> None:
    want = _write(kind, tmp_path / "in", n_vols=6)
    found = assemble(tmp_path / "in")
    assert not found.errors and len(found.series) == 1, found.series
    s = found.series[0]
    assert s.n_volumes == 6 and s.n_images == 30 and s.shape == (5, 12, 10)
    assert not any("duplicate" in w for w in s.warnings), s.warnings
    dim = s.dimension
    assert dim is not None and dim.name == want["name"]
    if "source" in want:
        assert dim.source == want["source"]
    if "values" in want:
        assert list(dim.values) == pytest.approx(want["values"])
    if "b" in want:
        assert list(dim.b_values) == want["b"]
        np.testing.assert_allclose(dim.b_vectors, want["g"], atol=1e-6)
    for k in (0, 3, 5):
        vol = s.load(volume=k)
        assert vol.shape == (5, 12, 10) and vol.extra["volume"] == k
        assert vol.describe().endswith(f", volume {k + 1} of 6 {dim.name}")  # viewer's panel
        for z in range(5):
            np.testing.assert_array_equal(vol.voxels[z], voxel_value(k, z, 12, 10))
    with pytest.raises(ValueError, match="volume 6"):
        s.load(volume=6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("oblique", [False, True], ids=["axial", "oblique"])
def test_4d_nifti_matches_dcm2niix(kind: str, oblique: bool, tmp_path: Path) -> None:
    want = _write(kind, tmp_path / "in", n_vols=5, iop=_OBLIQUE if oblique else (1, 0, 0, 0, 1, 0))
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1, (ours, theirs)
    assert nib.load(ours[0]).shape == nib.load(theirs[0]).shape == (10, 12, 5, 5)
    compare(ours[0], theirs[0])
    if want["name"] == "diffusion":
        a, b = ours[0].with_suffix(".bval"), theirs[0].with_suffix(".bval")
        assert np.loadtxt(a).tolist() == np.loadtxt(b).tolist() == want["b"]
        np.testing.assert_allclose(world_bvecs(ours[0]), world_bvecs(theirs[0]), atol=2e-4)
    else:
        assert not ours[0].with_suffix(".bval").exists()


def test_4d_compressed_export_equals_uncompressed(tmp_path: Path) -> None:
    _write("diffusion", tmp_path / "in", n_vols=3)
    nii = ownscan_export(tmp_path / "in", tmp_path / "a")
    from ownscan.core.cli import main

    assert (
        main(["export", str(tmp_path / "in"), "--format", "nifti", "-o", str(tmp_path / "b")]) == 0
    )
    gz = sorted((tmp_path / "b").glob("*.nii.gz"))
    assert len(gz) == 1
    a, b = nib.load(nii[0]), nib.load(gz[0])
    np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    np.testing.assert_array_equal(a.affine, b.affine)
    assert sorted(p.suffix for p in (tmp_path / "b").iterdir()) == [".bval", ".bvec", ".gz"]
    assert b"diffusion" in bytes(b.header["descrip"])
    assert float(a.header.get_zooms()[3]) == pytest.approx(2.0)  # TR in s, as dcm2niix


def test_separate_acquisitions_over_different_ranges_are_separate_series(tmp_path: Path) -> None:
    """A multi-phase CT whose phases cover different ranges: one series per phase."""
    uid = generate_uid()
    write_4d_series(
        tmp_path / "in", n_vols=1, series_uid=uid, prefix="a", per_volume=attrs(AcquisitionNumber=1)
    )
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, prefix="b", first_volume=1,
                    origin=(-7.0, -9.0, 26.0), per_volume=attrs(AcquisitionNumber=2))  # fmt: skip
    found = assemble(tmp_path / "in")
    assert sorted(s.n_images for s in found.series) == [5, 5]
    assert all(s.n_volumes == 1 for s in found.series)
    assert all(any("AcquisitionNumber" in w for w in s.warnings) for s in found.series)


def test_same_sop_instance_uid_with_other_content_is_kept(tmp_path: Path) -> None:
    files = write_4d_series(tmp_path / "in", n_vols=1)
    ds = dcmread(files[0])
    ds.PixelData = (np.frombuffer(ds.PixelData, np.uint16) + 5).astype(np.uint16).tobytes()
    ds.save_as(tmp_path / "in" / "other.dcm")
    found = assemble(tmp_path / "in")
    assert sorted(s.n_images for s in found.series) == [1, 5]
    assert found.conflicts == [str(tmp_path / "in" / "other.dcm")]
    assert all(any("share a SOP Instance UID" in w for w in s.warnings) for s in found.series)
    assert not found.skipped


def test_different_series_numbers_in_one_uid_are_separate(tmp_path: Path) -> None:
    uid = generate_uid()
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, series_number=3, prefix="a")
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, series_number=4, prefix="b")
    found = assemble(tmp_path / "in")
    assert sorted(s.info.series_number for s in found.series) == [3, 4]
    assert all(s.n_volumes == 1 and s.n_images == 5 for s in found.series)


def test_magnitude_and_phase_are_separate_and_named_like_dcm2niix(tmp_path: Path) -> None:
    uid = generate_uid()
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, prefix="m")
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, prefix="p",
                    image_type=("ORIGINAL", "PRIMARY", "P", "ND"),
                    value=lambda v, z, r, c: voxel_value(v + 3, z, r, c))  # fmt: skip
    found = assemble(tmp_path / "in")
    assert [s.label for s in found.series] == ["7 fmri", "7 fmri ph"]
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert [p.name for p in ours] == ["7_fmri.nii", "7_fmri_ph.nii"]
    assert len(theirs) == 2
    by_name = {p.name.replace(".nii", "").endswith("_ph"): p for p in theirs}
    compare(ours[0], by_name[False])
    compare(ours[1], by_name[True])


def test_info_shows_the_fourth_dimension(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ownscan.core.cli import main

    _write("diffusion", tmp_path / "in", n_vols=4)
    assert main(["info", str(tmp_path / "in"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["series"][0]
    assert got["n_volumes"] == 4 and got["n_images"] == 20
    assert got["dimension"]["name"] == "diffusion"
    assert got["dimension"]["b_values"] == [0.0, 1000.0, 0.0, 1000.0]
    assert main(["info", str(tmp_path / "in")]) == 0
    text = capsys.readouterr().out
    assert "x 4 diffusion volumes (b 0..1000 s/mm2" in text, text


def test_render_volume_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    from ownscan.core.cli import main

    _write("temporal", tmp_path / "in", n_vols=3)
    pics = []
    for k in (1, 3):
        out = tmp_path / f"v{k}.png"
        args = ["render", str(tmp_path / "in"), "-o", str(out), "--mode", "mpr",
                "--backend", "cpu", "--size", "64x64", "--window", "4000", "--level", "2000",
                "--volume", str(k)]  # fmt: skip
        assert main(args) == 0
        pics.append(np.asarray(Image.open(out)))
    assert not np.array_equal(pics[0], pics[1])  # volume 3 is 2000 brighter than volume 1
    assert pics[1][..., :3].mean() > pics[0][..., :3].mean()
    assert main(["render", str(tmp_path / "in"), "-o", str(tmp_path / "x.png"),
                 "--volume", "4"]) == 2  # fmt: skip
    assert "--volume 4" in capsys.readouterr().err
    assert not math.isnan(float(pics[0].mean()))


def test_missing_slices_resampled_like_dcm2niix_equalized(tmp_path: Path) -> None:
    """Slices 4 and 5 of 10 missing: the regular grid is the acquired one, the gap is filled
    by interpolation, as in dcm2niix's _Eq output (which stops one slice short of the top)."""
    pos = [k * 2.5 for k in range(10) if k not in (4, 5)]
    write_ct_series(tmp_path / "in", positions=pos, rows=32, cols=32)
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    dcm2niix(tmp_path / "in", tmp_path / "theirs")
    eq = sorted((tmp_path / "theirs").glob("*_Eq_*.nii"))
    assert len(ours) == 1 and len(eq) == 1
    a, b = canonical(ours[0]), canonical(eq[0])
    assert a[0].shape == (32, 32, 10) and b[0].shape == (32, 32, 9)
    np.testing.assert_allclose(a[1], b[1], atol=0.01)  # same grid, same first slice
    assert np.abs(a[0][..., :9] - b[0]).max() <= 1  # interpolated values rounded alike


def test_two_spacings_resampled_between_acquired_slices(tmp_path: Path) -> None:
    """Steps of 4.2 mm then 7.4 mm (a tilted CT of the issue): a regular grid from the first to
    the last acquired slice, each slice interpolated from the two acquired ones around it."""
    pos = [k * 4.2 for k in range(6)] + [21 + k * 7.4 for k in range(1, 5)]
    files = write_ct_series(tmp_path / "in", positions=pos, rows=16, cols=16)
    s = assemble(tmp_path / "in").series[0]
    assert s.n_images == 10 and s.shape == (13, 16, 16)
    assert s.spacing[2] == pytest.approx((pos[-1] - pos[0]) / 12)
    assert any("resampled onto a regular grid of 13 slices" in w for w in s.warnings)
    vol = s.load()
    acquired = {float(dcmread(f).ImagePositionPatient[2]): dcmread(f) for f in files}
    z = sorted(acquired)
    hu = [acquired[p].pixel_array.astype(np.float64) - 1024 for p in z]
    for k in range(13):
        p = vol.index_to_lps([0, 0, k])[2]
        j = min(int(np.searchsorted(z, p - 0.01)), len(z) - 1)
        i = max(j - 1, 0)
        w = 1.0 if z[j] == z[i] else (p - z[i]) / (z[j] - z[i])
        want = hu[i] * (1 - w) + hu[j] * w
        assert np.abs(vol.voxels[k] - want).max() <= 0.5 + 1e-3, k
    np.testing.assert_array_equal(vol.voxels[-1], hu[-1])  # the last acquired slice, exactly
    out = ownscan_export(tmp_path / "in", tmp_path / "ours")  # the file path agrees
    np.testing.assert_array_equal(np.asarray(nib.load(out[0]).dataobj), vol.voxels.T)


def _nibabel_mosaics(folder: Path) -> list[Path]:
    """The two real Siemens DWI mosaics nibabel's wheel ships (b = 0 and b = 1000, 48 slices
    of 128x128 in a 896x896 mosaic), unpacked into ``folder``."""
    import gzip

    data = Path(nib.__file__).parent / "nicom" / "tests" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        dst = folder / name[:-3]
        dst.write_bytes(gzip.decompress((data / name).read_bytes()))
        out.append(dst)
    return out


def test_siemens_mosaic_unpacked_like_dcm2niix(tmp_path: Path) -> None:
    files = _nibabel_mosaics(tmp_path / "in")
    found = assemble(tmp_path / "in")
    assert not found.errors and len(found.series) == 1, found.series
    s = found.series[0]
    assert s.n_volumes == 2 and s.shape == (48, 128, 128) and s.n_images == 96
    assert s.dimension is not None and list(s.dimension.b_values) == [0.0, 1000.0]
    assert s.files == [str(f) for f in files]
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    assert nib.load(ours[0]).shape == nib.load(theirs[0]).shape == (128, 128, 48, 2)
    compare(ours[0], theirs[0])  # the mosaic position correction: affines within 0.01 mm
    # slice timing from the CSA header, as dcm2niix's SliceTiming (in its slice order)
    theirs_t = json.loads(theirs[0].with_suffix(".json").read_text())["SliceTiming"]
    same_way = nib.load(ours[0]).affine[:3, 2] @ nib.load(theirs[0]).affine[:3, 2] > 0
    ours_t = list(s.slice_timing or ())
    assert len(ours_t) == 48 and ours_t[0] == pytest.approx(6.4875, abs=1e-6)
    np.testing.assert_allclose(ours_t if same_way else ours_t[::-1], theirs_t, atol=0.005)


def test_mosaic_tiles_are_the_mosaic_cut_up(tmp_path: Path) -> None:
    files = _nibabel_mosaics(tmp_path / "in")
    vol = assemble(files[1:]).series[0].load()
    whole = dcmread(files[1]).pixel_array
    for k in (0, 7, 47):
        r, c = divmod(k, 7)
        tile = whole[r * 128 : (r + 1) * 128, c * 128 : (c + 1) * 128]
        # slices are sorted along row x column; this mosaic runs the same way
        np.testing.assert_array_equal(vol.voxels[k], tile)


def _enhanced_mr(out: Path, n_vols: int, n_slices: int, kind: str) -> None:
    """One Enhanced MR Image Storage file holding ``n_vols`` x ``n_slices`` frames in a shuffled
    order, the volumes told apart by TemporalPositionIndex or by the MR Diffusion group."""
    import random

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DSequence
    from pydicom.uid import ExplicitVRLittleEndian

    def item(**kw: object) -> Dataset:
        d = Dataset()
        for k, v in kw.items():
            setattr(d, k, v)
        return d

    enhanced_mr = "1.2.840.10008.5.1.4.1.1.4.1"
    rows, cols = 12, 10
    table = diffusion_table(n_vols)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = enhanced_mr
    ds.SOPClassUID = enhanced_mr
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.Manufacturer = "Enh^MR", "E4", "MR", "SIEMENS"
    ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = 9, "enhanced", 1
    ds.StudyDate, ds.StudyTime, ds.PatientPosition = "20240102", "101010", "HFS"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    order = [(v, z) for v in range(n_vols) for z in range(n_slices)]
    random.Random(3).shuffle(order)
    ds.NumberOfFrames = len(order)
    ds.SharedFunctionalGroupsSequence = DSequence([item(
        PlaneOrientationSequence=DSequence([item(ImageOrientationPatient=list(_OBLIQUE))]),
        PixelMeasuresSequence=DSequence([item(PixelSpacing=[1.5, 1.25], SliceThickness=3.0)]),
        MRTimingAndRelatedParametersSequence=DSequence([item(RepetitionTime=2000.0)]),
    )])  # fmt: skip
    row, col = np.array(_OBLIQUE[:3]), np.array(_OBLIQUE[3:])
    normal = np.cross(row, col)
    per_frame = []
    for v, z in order:
        pos = [round(float(x), 4) for x in np.array([-7.0, -9.0, 20.0]) + 3.0 * z * normal]
        fg = item(
            PlanePositionSequence=DSequence([item(ImagePositionPatient=pos)]),
            FrameContentSequence=DSequence([item(
                TemporalPositionIndex=v + 1, InStackPositionNumber=z + 1,
                DimensionIndexValues=[v + 1, z + 1],
            )]),
        )  # fmt: skip
        if kind == "diffusion":
            b, g = table[v]
            fg.MRDiffusionSequence = DSequence([item(
                DiffusionBValue=b, DiffusionDirectionality="DIRECTIONAL" if b else "NONE",
                DiffusionGradientDirectionSequence=DSequence(
                    [item(DiffusionGradientOrientation=list(g))]
                ),
            )])  # fmt: skip
            del fg.FrameContentSequence[0].TemporalPositionIndex
        per_frame.append(fg)
    ds.PerFrameFunctionalGroupsSequence = DSequence(per_frame)
    first_dim = (0x0020, 0x9128, 0x0020, 0x9111)  # TemporalPositionIndex in Frame Content
    if kind == "diffusion":  # DiffusionBValue in MR Diffusion
        first_dim = (0x0018, 0x9087, 0x0018, 0x9117)
    ds.DimensionOrganizationSequence = DSequence([item(DimensionOrganizationUID=generate_uid())])
    org = ds.DimensionOrganizationSequence[0].DimensionOrganizationUID
    ptr, group = (first_dim[0] << 16) | first_dim[1], (first_dim[2] << 16) | first_dim[3]
    ds.DimensionIndexSequence = DSequence([
        item(DimensionOrganizationUID=org, DimensionIndexPointer=ptr, FunctionalGroupPointer=group),
        item(DimensionOrganizationUID=org, DimensionIndexPointer=0x00209057,
             FunctionalGroupPointer=0x00209111),
    ])  # fmt: skip
    ds.PixelData = b"".join(voxel_value(v, z, rows, cols).tobytes() for v, z in order)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out, enforce_file_format=True)


@pytest.mark.parametrize("kind", ["temporal", "diffusion"])
def test_enhanced_multiframe_4d(kind: str, tmp_path: Path) -> None:
    _enhanced_mr(tmp_path / "in" / "enhanced.dcm", 4, 5, kind)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_volumes == 4 and s.shape == (5, 12, 10)
    assert s.dimension is not None
    assert s.dimension.name == ("diffusion" if kind == "diffusion" else "time")
    for k in range(4):
        vol = s.load(volume=k)
        for z in range(5):
            np.testing.assert_array_equal(vol.voxels[z], voxel_value(k, z, 12, 10))
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    # Debian's dcm2niix (v1.0.20220720) stacks these 20 frames as one 3D volume, so the
    # oracle is dcm2niix on the same series written as single-frame files
    _write(kind, tmp_path / "single", n_vols=4, iop=_OBLIQUE)
    theirs = dcm2niix(tmp_path / "single", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])
    if kind == "diffusion":
        assert np.loadtxt(ours[0].with_suffix(".bval")).tolist() == [0.0, 1000.0, 0.0, 1000.0]
        np.testing.assert_allclose(world_bvecs(ours[0]), world_bvecs(theirs[0]), atol=2e-4)


def test_echoes_and_derived_maps_named_like_dcm2niix(tmp_path: Path) -> None:
    uid = generate_uid()
    for e in (1, 2):
        write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, prefix=f"e{e}",
                        per_volume=attrs(EchoNumbers=e, EchoTime=10.0 * e),
                        value=lambda v, z, r, c, e=e: voxel_value(v + e, z, r, c))  # fmt: skip
    write_4d_series(tmp_path / "in", n_vols=1, series_uid=uid, prefix="adc",
                    image_type=("DERIVED", "PRIMARY", "DIFFUSION", "ADC"),
                    per_volume=attrs(EchoNumbers=1, EchoTime=10.0),
                    value=lambda v, z, r, c: voxel_value(v + 5, z, r, c))  # fmt: skip
    found = assemble(tmp_path / "in")
    assert sorted(s.label for s in found.series) == ["7 fmri e1", "7 fmri e1_ADC", "7 fmri e2"]
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 3
    for o in ours:  # each output equals the dcm2niix output with the same voxels
        a = canonical(o)[0]
        assert sum(np.array_equal(a, canonical(t)[0]) for t in theirs) == 1, o.name
    names = sorted(p.name for p in theirs)
    assert any(n.endswith("_e2.nii") for n in names), names


def _philips(ds, v: int, z: int) -> None:
    ds.Manufacturer = "Philips Medical Systems"
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 2.5, 10.0, "normalized"
    block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    block.add_new(0x0D, "FL", -3.0)  # MR Scale Intercept
    block.add_new(0x0E, "FL", 0.04)  # MR Scale Slope (dcm2niix reads one per series)


@pytest.mark.parametrize("n_vols", [1, 2], ids=["3d", "4d"])
@pytest.mark.parametrize("fp", [False, True], ids=["display", "philips_float"])
def test_philips_scaling_display_by_default_float_on_request(
    fp: bool, n_vols: int, tmp_path: Path
) -> None:
    import subprocess

    write_4d_series(tmp_path / "in", n_vols=n_vols, manufacturer="Philips", per_volume=_philips)
    extra = ["--philips-float"] if fp else []
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours", *extra)
    (tmp_path / "theirs").mkdir()
    r = subprocess.run(
        ["dcm2niix", "-p", "y" if fp else "n", "-z", "n", "-f", "%s_%d", "-o",
         str(tmp_path / "theirs"), str(tmp_path / "in")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    theirs = sorted((tmp_path / "theirs").glob("*.nii"))
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0], exact=False)  # float values: within float32 rounding
    desc = bytes(nib.load(ours[0]).header["descrip"])
    assert (b"Philips FP scaling" in desc) == fp and (b"display values" in desc) != fp
    # display values are what the DICOM rescale gives: SV * 2.5 + 10
    if not fp:
        data = np.asarray(nib.load(ours[0]).dataobj).reshape(10, 12, 5, n_vols)
        want = voxel_value(n_vols - 1, 0, 12, 10) * 2.5 + 10
        np.testing.assert_allclose(data[..., 0, n_vols - 1].T, want)


@pytest.mark.parametrize("direct", [True, False], ids=["into_file", "in_memory"])
def test_a_later_volume_that_overflows_int16_makes_every_volume_int32(
    direct: bool, tmp_path: Path
) -> None:
    def value(v: int, z: int, r: int, c: int) -> np.ndarray:
        out = voxel_value(v, z, r, c)
        if v == 2 and z == 3:
            out[0, 0] = 60000  # -1024: beyond int16, found only while decoding volume 3
        return out

    write_4d_series(tmp_path / "in", n_vols=3, value=value,
                    per_volume=attrs(RescaleSlope=1, RescaleIntercept=-1024))  # fmt: skip
    (s,) = assemble(tmp_path / "in").series
    if direct:
        out = ownscan_export(tmp_path / "in", tmp_path / "ours")
        data = np.asarray(nib.load(out[0]).dataobj)
        assert data.dtype == np.int32 and data.shape == (10, 12, 5, 3)
        vols = [data[..., k].T for k in range(3)]
    else:
        vols = [v.voxels for v in s.load_volumes()]
        assert {v.dtype for v in vols} == {np.dtype(np.int32)}
    for k in range(3):
        for z in range(5):
            want = value(k, z, 12, 10).astype(np.int32) - 1024
            np.testing.assert_array_equal(vols[k][z], want)
