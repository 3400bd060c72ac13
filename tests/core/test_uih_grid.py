"""UIH (United Imaging) grid images: the slices of a volume tiled into one image, the number
in the private (0065,1050), ImagePositionPatient the first slice's corner, each slice's
position (if at all) in the private MRVFrameSequence (0065,1051). Generated series unpacked
and compared with dcm2niix (shape, affine within 0.01 mm, every voxel)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from niicompare import compare, dcm2niix, ownscan_export, world_bvecs
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from ownscan.core import assemble

_OBLIQUE = (0.9848, 0.0, -0.1736, 0.0302, 0.9848, 0.1710)
_AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
TILE_R, TILE_C = 8, 10


def tile_value(vol: int, k: int) -> np.ndarray:
    """The stored values of slice ``k`` of volume ``vol``."""
    r, c = np.mgrid[0:TILE_R, 0:TILE_C]
    return (100 + 1000 * vol + 37 * k + 3 * r + c).astype(np.uint16)


def write_uih_grid(
    folder: Path,
    *,
    n: int,
    n_vols: int = 2,
    iop: tuple[float, ...] = _AXIAL,
    positions: bool = True,
    normal: bool = True,
    per_volume: Callable[[Dataset, int], None] | None = None,
) -> list[np.ndarray]:
    """``n_vols`` UIH grid files of ``n`` slices each (``ceil(sqrt(n))`` tiles to a row, as
    many rows as needed), slices 3 mm apart along ``row x column``. ``positions``: the
    private MRVFrameSequence with each slice's position; ``normal``: the private slice
    normal (0065,1014); ``per_volume(ds, vol)`` adds to each file. Returns the slice
    positions (LPS)."""
    side = math.ceil(math.sqrt(n))
    down = math.ceil(n / side)
    r, c = np.array(iop[:3]), np.array(iop[3:])
    nrm = np.cross(r, c)
    pos = [np.array([-20.0, -30.0, 10.0]) + 3.0 * k * nrm for k in range(n)]
    uid, study = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for v in range(n_vols):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, uid
        ds.FrameOfReferenceUID = generate_uid()
        ds.Modality, ds.Manufacturer, ds.PatientName, ds.PatientID = "MR", "UIH", "U^I", "U"
        ds.SeriesNumber, ds.SeriesDescription = 3, "grid"
        ds.InstanceNumber = ds.AcquisitionNumber = v + 1
        ds.StudyDate, ds.StudyTime, ds.AcquisitionTime = "20240101", "101010", f"1010{10 + 2 * v}"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "MOSAIC"]
        ds.RepetitionTime, ds.EchoTime = 2000, 30
        ds.ImageOrientationPatient = list(iop)
        ds.ImagePositionPatient = [round(float(x), 4) for x in pos[0]]  # the first slice's
        ds.PixelSpacing, ds.SliceThickness, ds.SpacingBetweenSlices = [2.0, 1.5], 3.0, 3.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = down * TILE_R, side * TILE_C
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        img = np.zeros((ds.Rows, ds.Columns), np.uint16)
        for k in range(n):
            gr, gc = divmod(k, side)
            img[gr * TILE_R : (gr + 1) * TILE_R, gc * TILE_C : (gc + 1) * TILE_C] = tile_value(v, k)
        ds.PixelData = img.tobytes()
        block = ds.private_block(0x0065, "Image Private Header", create=True)
        block.add_new(0x50, "DS", str(n))
        if normal:
            block.add_new(0x14, "DS", [f"{x:.6f}" for x in nrm])
        if positions:
            items = []
            for p in pos:
                item = Dataset()
                item.ImagePositionPatient = [round(float(x), 4) for x in p]
                items.append(item)
            block.add_new(0x51, "SQ", DSequence(items))
        if per_volume is not None:
            per_volume(ds, v)
        ds.save_as(folder / f"grid{v}.dcm", enforce_file_format=True)
    return pos


@pytest.mark.parametrize("n", [9, 6], ids=["square", "3x2"])
@pytest.mark.parametrize("iop", [_AXIAL, _OBLIQUE], ids=["axial", "oblique"])
@pytest.mark.parametrize("positions", [True, False], ids=["positions", "normal_only"])
def test_uih_grid_unpacked_like_dcm2niix(
    n: int, iop: tuple, positions: bool, tmp_path: Path
) -> None:
    pos = write_uih_grid(tmp_path / "in", n=n, iop=iop, positions=positions)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_volumes == 2 and s.shape == (n, TILE_R, TILE_C) and s.n_images == 2 * n
    assert not any("UIH" in w for w in s.warnings), s.warnings
    np.testing.assert_allclose(s.origin, pos[0], atol=1e-3)  # the first slice's corner
    np.testing.assert_allclose(s.spacing, (1.5, 2.0, 3.0), atol=1e-3)
    for v in (0, 1):
        vol = s.load(volume=v)
        for k in range(n):
            np.testing.assert_array_equal(vol.voxels[k], tile_value(v, k))
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    assert nib.load(ours[0]).shape == nib.load(theirs[0]).shape == (TILE_C, TILE_R, n, 2)
    compare(ours[0], theirs[0])


def test_uih_grid_without_positions_or_normal_says_so(tmp_path: Path) -> None:
    write_uih_grid(tmp_path / "in", n=4, positions=False, normal=False)
    (s,) = assemble(tmp_path / "in").series
    assert s.shape == (4, TILE_R, TILE_C)
    assert any("UIH grid without slice positions or slice normal" in w for w in s.warnings)


def test_uih_grid_that_does_not_fit_is_an_error(tmp_path: Path) -> None:
    write_uih_grid(tmp_path / "in", n=7, n_vols=1)  # 3 x 3 tiles laid out for 7: fits
    found = assemble(tmp_path / "in")
    assert not found.errors and found.series[0].shape == (7, TILE_R, TILE_C)
    from pydicom import dcmread

    f = tmp_path / "in" / "grid0.dcm"
    ds = dcmread(f)
    ds.private_block(0x0065, "Image Private Header").add_new(
        0x50, "DS", "26"
    )  # 6 x 5 tiles: 24 rows
    ds.save_as(f)
    found = assemble(tmp_path / "in")
    assert not found.series and len(found.errors) == 1
    assert "UIH grid of 26 images" in found.errors[0].reason


_DWI = [(0.0, (0.0, 0.0, 0.0)), (1000.0, (1.0, 0.0, 0.0)), (1000.0, (0.0, 1.0, 0.0)),
        (0.0, (0.0, 0.0, 0.0)), (1000.0, (0.0, 0.0, 1.0)), (1000.0, (0.6, 0.8, 0.0))]  # fmt: skip


@pytest.mark.parametrize("iop", [_AXIAL, _OBLIQUE], ids=["axial", "oblique"])
def test_uih_diffusion_grid_like_dcm2niix(iop: tuple, tmp_path: Path) -> None:
    """UIH's private b-value (0065,1009) and direction (0065,1037, along the image's row,
    column and normal): the .bval and the directions in the patient are dcm2niix's."""

    def dwi(ds: Dataset, v: int) -> None:
        block = ds.private_block(0x0065, "Image Private Header")
        block.add_new(0x09, "FD", _DWI[v][0])
        block.add_new(0x37, "FD", list(_DWI[v][1]))

    write_uih_grid(tmp_path / "in", n=4, n_vols=len(_DWI), iop=iop, per_volume=dwi)
    (s,) = assemble(tmp_path / "in").series
    assert s.dimension is not None and s.dimension.name == "diffusion"
    assert list(s.dimension.b_values) == [b for b, _ in _DWI]
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])
    bval = [np.loadtxt(p.with_suffix(".bval")).tolist() for p in (ours[0], theirs[0])]
    assert bval[0] == bval[1]
    np.testing.assert_allclose(world_bvecs(ours[0]), world_bvecs(theirs[0]), atol=2e-4)
