"""Image Orientation (Patient) whose vectors are not unit or not perpendicular, against dcm2niix.

The rule (docs/CORE.md, "Orientation"): vectors of another length are used by their
direction, as dcm2niix does (a warning beyond 1 %); vectors slightly off perpendicular are
made perpendicular when that moves no pixel by more than half a pixel (a warning above a
tenth); beyond that no 3D placement is right for every pixel, and each image is shown on
its own with a warning that names the file. Each variant is made from a generated CT series
and from the real oblique head MR; the NIfTI is compared with dcm2niix's by the test.
"""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped
from niicompare import compare, dcm2niix

from ownscan.core import assemble

C, S = math.cos(0.3), math.sin(0.3)
OBLIQUE = (1.0, 0.0, 0.0, 0.0, C, S)


def _write(folder: Path, iop_file: list[float], iop_true: tuple[float, ...]) -> list[Path]:
    """A CT series placed by ``iop_true`` whose files say ``iop_file``."""
    files = write_ct_series(folder, n_slices=5, iop=iop_true)
    for f in files:
        ds = pydicom.dcmread(f)
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop_file]
        ds.save_as(f)
    return files


def _export(folder: Path, out: Path) -> list[Path]:
    r = capped("export", str(folder), "-o", str(out), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    return sorted(out.glob("*.nii"))


NON_UNIT = {
    "lengths-2": ([2, 0, 0, 0, 2, 0], (1, 0, 0, 0, 1, 0), "lengths 2 and 2"),
    "lengths-0.5": ([0.5, 0, 0, 0, 0.5, 0], (1, 0, 0, 0, 1, 0), "lengths 0.5 and 0.5"),
    "lengths-1.02-0.98": ([1.02, 0, 0, 0, 0.98, 0], (1, 0, 0, 0, 1, 0), "lengths 1.02 and 0.98"),
    "oblique-1.05": ([1.05 * v for v in OBLIQUE], OBLIQUE, "lengths 1.05 and 1.05"),
}


@pytest.mark.parametrize("name", list(NON_UNIT))
def test_non_unit_vectors_are_used_by_direction_like_dcm2niix(name: str, tmp_path: Path) -> None:
    iop_file, iop_true, said = NON_UNIT[name]
    folder = tmp_path / "in"
    files = _write(folder, iop_file, iop_true)
    (series,) = assemble(folder).series
    assert series.kind == "volume" and series.shape == (5, 48, 64)
    text = " ".join(series.warnings)
    assert f"{said}, not 1: their directions are used" in text and str(files[0]) in text, text
    ours = _export(folder, tmp_path / "ours")
    theirs = dcm2niix(folder, tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])


def test_rounding_in_the_header_is_silent(tmp_path: Path) -> None:
    """Lengths within 1 % and a cosine of 5e-4 on a 64-pixel image (a shift of 0.02 mm, under
    a tenth of a pixel): no warning, and dcm2niix's NIfTI."""
    folder = tmp_path / "in"
    _write(folder, [1.005, 0, 0, 0.0005, 0.999, 0], (1, 0, 0, 0, 1, 0))
    (series,) = assemble(folder).series
    assert series.kind == "volume" and not series.warnings, series.warnings
    ours, theirs = _export(folder, tmp_path / "ours")[0], dcm2niix(folder, tmp_path / "theirs")[0]
    # voxels identical; dcm2niix keeps the 0.03 degree shear, which moves the far corner
    # (where the canonical affine's origin lies) by 0.02 mm
    compare(ours, theirs, atol_mm=0.025)


def test_nearly_perpendicular_is_made_perpendicular_with_a_warning(tmp_path: Path) -> None:
    """A cosine of 0.002 (0.11 degree) on 64x48 pixels: made perpendicular, the pixels move
    by under half a pixel (0.08 mm), said; dcm2niix keeps the shear in its affine, which
    differs from ours by no more than that."""
    folder = tmp_path / "in"
    _write(folder, [1, 0, 0, 0.002, 1, 0], (1, 0, 0, 0, 1, 0))
    (series,) = assemble(folder).series
    assert series.kind == "volume"
    text = " ".join(series.warnings)
    assert "89.885 degrees apart: made perpendicular" in text, text
    assert "moves pixels by up to 0.08 mm (under half a pixel)" in text, text
    ours = _export(folder, tmp_path / "ours")[0]
    theirs = dcm2niix(folder, tmp_path / "theirs")[0]
    compare(ours, theirs, atol_mm=0.081)  # voxels identical, the corners within 0.08 mm
    # and every voxel centre lies within the stated 0.08 mm of dcm2niix's
    import nibabel as nib

    a, b = nib.load(ours).affine, nib.load(theirs).affine
    ijk = np.array([[i, j, k, 1] for i in (0, 63) for j in (0, 47) for k in (0, 4)], float).T
    pa = a @ ijk
    # dcm2niix flips the rows (j): map our voxel to its voxel
    jb = ijk.copy()
    jb[1] = 47 - ijk[1]
    pb = b @ jb
    assert np.abs(pa - pb)[:3].max() <= 0.081, np.abs(pa - pb)[:3].max()


@pytest.mark.parametrize(
    "iop",
    [[1, 0, 0, 0.05, 1, 0], [1, 0, 0, 0.7, 0.7, 0], [1, 0, 0, 1, 0, 0]],
    ids=["3-degrees-off", "45-degrees", "parallel"],
)
def test_truly_not_perpendicular_is_each_image_on_its_own(tmp_path: Path, iop: list[float]) -> None:
    folder = tmp_path / "in"
    files = _write(folder, iop, (1, 0, 0, 0, 1, 0))
    found = assemble(folder)
    assert [s.kind for s in found.series] == ["image"] * 5
    text = " ".join(found.series[0].warnings)
    assert "is not two perpendicular unit vectors" in text and str(files[0]) in text, text
    r = capped("render", str(folder), "-o", str(tmp_path / "r.png"), "--backend", "cpu")
    assert_handled(r)


@pytest.fixture(scope="module")
def head_scaled(mr_head_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real oblique head MR with its orientation vectors written twice as long."""
    out = tmp_path_factory.mktemp("head-iop-x2")
    for f in sorted(mr_head_dir.iterdir()):
        ds = pydicom.dcmread(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.ImageOrientationPatient = [
                f"{2 * float(v):.12g}" for v in ds.ImageOrientationPatient
            ]
            ds.save_as(out / f.name)
    return out


def test_real_head_mr_with_doubled_vectors_equals_its_original(
    head_scaled: Path, mr_head_dir: Path, tmp_path: Path
) -> None:
    """The oblique head MR with vectors of length 2 gives the original's NIfTI, and
    dcm2niix's of the original, and warns."""
    r = capped("info", str(head_scaled))
    assert r.returncode == 0
    assert "MR volume 274x384x384" in r.stdout and "not 1: their directions are used" in r.stdout
    ours = _export(head_scaled, tmp_path / "ours")
    theirs = dcm2niix(mr_head_dir, tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])
    shutil.rmtree(tmp_path / "ours")


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_prior_matching_reads_the_plane_by_direction(tmp_path: Path, scale: float) -> None:
    """Priors are matched by plane (axial, coronal...): vectors of another length name the
    same plane (a 0.5 scale once made an axial series 'oblique')."""
    from ownscan.core.compare._priors import _orientation
    from ownscan.core.library import open_library

    folder = tmp_path / "in"
    files = _write(folder, [scale * v for v in (1, 0, 0, 0, 1, 0)], (1, 0, 0, 0, 1, 0))
    r = capped("import", str(folder), "--library", str(tmp_path / "lib"))
    assert r.returncode == 0, r.stderr
    with open_library(tmp_path / "lib") as lib:
        assert _orientation(lib, str(pydicom.dcmread(files[0]).SeriesInstanceUID)) == "axial"


def test_marks_are_placed_on_the_image_as_it_is_shown(tmp_path: Path) -> None:
    """Marks (presentation states, SR) are placed through the image's plane: with vectors of
    length 2 the plane is the unit one (pixels where the image is shown), and a plane 3
    degrees off perpendicular is none (the image has no 3D place)."""
    from ownscan.core.viewer._marks import image_plane

    files = write_ct_series(tmp_path / "in", n_slices=1)
    ds = pydicom.dcmread(files[0])
    unit = image_plane(ds, "s")
    ds.ImageOrientationPatient = [2, 0, 0, 0, 2, 0]
    doubled = image_plane(ds, "s")
    assert unit is not None and doubled is not None
    for name in ("corner", "col_step", "row_step"):
        np.testing.assert_allclose(getattr(doubled, name), getattr(unit, name), atol=1e-9)
    ds.ImageOrientationPatient = [1, 0, 0, 0.05, 1, 0]
    assert image_plane(ds, "s") is None
