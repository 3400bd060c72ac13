"""The stl / obj / ply exporters: closed, clean, outward meshes in patient RAS millimetres.

The geometry oracle is dcm2niix: it converts the same DICOM series to NIfTI, whose affine maps
voxels to RAS independently of ownscan; the thresholded voxels' extent through that affine must
match the mesh's bounding box within one voxel.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import trimesh
from export_data import run
from pydicom.uid import generate_uid
from scipy.ndimage import map_coordinates

from ownscan.core.assembly import assemble, load_volume
from ownscan.core.cli import main
from ownscan.plugins.mesh import MeshExporter, MeshOptions, surface_mesh

from ctgen import make_ct_dataset  # isort: skip  (export_data puts tests/core on the path)

THRESHOLD = 300.0


def write_block_ct(folder: Path, iop: tuple[float, ...], n: int = 20) -> Path:
    """A CT of air with soft tissue and a bone block in the patient's left, anterior, upper
    corner (an object no flip, swap or mirror leaves in place)."""
    folder.mkdir(parents=True)
    rows, cols = 40, 48
    row, col = np.asarray(iop[:3]), np.asarray(iop[3:])
    normal = np.cross(row, col)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(n):
        hu = np.full((rows, cols), -1000, dtype=np.int16)
        hu[5:35, 4:44] = 40
        if 12 <= k < 17:
            # columns run along `row` (LPS +x = patient's left for the identity orientation),
            # rows along `col` (+y = posterior): a block at high column, low row = left-anterior
            hu[6:14, 30:42] = 1000
        ipp = np.array([-20.0, -15.0, 40.0]) + k * 2.0 * normal
        ds = make_ct_dataset(hu, ipp=ipp, iop=iop, pixel_spacing=(0.9, 0.8), thickness=2.0,
                             series_uid=series, study_uid=study, frame_uid=frame,
                             instance_number=k + 1)  # fmt: skip
        ds.save_as(folder / f"IM{k:03d}.dcm", enforce_file_format=True)
    return folder


def dcm2niix_extent(folder: Path, out: Path, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The RAS box of the voxels at or above ``threshold`` as dcm2niix sees them."""
    run("dcm2niix", "-z", "n", "-f", "ref", "-o", out, folder)
    img = nib.load(out / "ref.nii")
    data = img.get_fdata()
    ijk = np.argwhere(data >= threshold)  # integer data: at or above is inside
    ras = nib.affines.apply_affine(img.affine, ijk)
    return ras.min(axis=0), ras.max(axis=0)


def check_clean_closed_outward(mesh: trimesh.Trimesh, volume, threshold: float) -> None:
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0  # closed with outward normals: positive signed volume
    assert mesh.area_faces.min() > 0  # no degenerate face
    assert len(mesh.faces) == len(np.unique(np.sort(mesh.faces, axis=1), axis=0))
    # outward: a step along the normal leaves the object, a step against it enters it
    inv = np.linalg.inv(volume.affine_ras)
    step = 0.75 * min(volume.spacing)
    centres, normals = mesh.triangles_center, mesh.face_normals
    rng = np.random.default_rng(0)
    pick = rng.choice(len(centres), size=min(2000, len(centres)), replace=False)

    def value_at(ras: np.ndarray) -> np.ndarray:
        ijk = nib.affines.apply_affine(inv, ras)
        zyx = ijk[:, ::-1].T
        return map_coordinates(volume.voxels.astype(np.float32), zyx, order=1, cval=-2000)

    out = value_at(centres[pick] + step * normals[pick])
    inside = value_at(centres[pick] - step * normals[pick])
    # (inward normals would give about 1 - this; decimated thin pieces blur a few faces)
    assert np.mean(out < inside) > 0.9


@pytest.mark.parametrize(
    "iop",
    # the oblique pair is perpendicular (its column was 85 degrees from its row: a shear no
    # scanner writes, which assembly now shows image by image, docs/CORE.md "Orientation")
    [(1, 0, 0, 0, 1, 0), (0.9659258, 0.2588190, 0, -0.085842, 0.3203668, -0.9433961)],
    ids=["axial", "oblique"],
)
def test_bone_block_is_where_dcm2niix_puts_it(tmp_path: Path, iop: tuple[float, ...]):
    folder = write_block_ct(tmp_path / "ct", iop)
    volume = load_volume(str(folder))
    mesh = surface_mesh(volume, MeshOptions(threshold=THRESHOLD, smooth=0))
    check_clean_closed_outward(mesh, volume, THRESHOLD)
    lo, hi = dcm2niix_extent(folder, tmp_path, THRESHOLD)
    voxel = max(volume.spacing)
    np.testing.assert_allclose(mesh.bounds[0], lo, atol=voxel)
    np.testing.assert_allclose(mesh.bounds[1], hi, atol=voxel)
    if iop[0] == 1:  # RAS: the block is on the patient's left (-x), anterior (+y)
        centre = mesh.centroid
        assert centre[0] < -2 and centre[1] > 2


def test_cli_stl_smoothed_decimated_never_overwrites(tmp_path: Path):
    folder = write_block_ct(tmp_path / "ct", (1, 0, 0, 0, 1, 0))
    out = tmp_path / "bone.stl"
    args = ["export", str(folder), "--format", "stl", "-o", str(out), "--surface", "bone",
            "--max-triangles", "300", "--smooth", "5"]  # fmt: skip
    assert main(args) == 0
    mesh = trimesh.load(out)
    assert 0 < len(mesh.faces) <= 300
    volume = load_volume(str(folder))
    check_clean_closed_outward(mesh, volume, THRESHOLD)
    before = out.read_bytes()
    assert main(args) == 2  # exists: an error, nothing replaced
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bone.stl", "ct"]


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_obj_and_ply_hold_the_same_surface(tmp_path: Path, fmt: str):
    folder = write_block_ct(tmp_path / "ct", (1, 0, 0, 0, 1, 0))
    volume = load_volume(str(folder))
    (path,) = MeshExporter(fmt, "").export([volume], tmp_path / "m", {"threshold": THRESHOLD})
    assert path.name == f"m.{fmt}"
    got = trimesh.load(path, process=True)
    want = surface_mesh(volume, MeshOptions(threshold=THRESHOLD))
    assert got.is_watertight
    np.testing.assert_allclose(got.bounds, want.bounds, atol=1e-4)
    assert got.volume == pytest.approx(want.volume, rel=1e-4)


def test_real_head_mr_skin_surface(mr_head_dir: Path, tmp_path: Path):
    series = assemble(str(mr_head_dir)).series[0]
    volume = series.load()
    threshold = 100.0  # the brightest tissue: a quick, closed surface of many pieces
    mesh = surface_mesh(volume, MeshOptions(threshold=threshold, max_triangles=60_000))
    assert len(mesh.faces) <= 60_000
    check_clean_closed_outward(mesh, volume, threshold)
    lo, hi = dcm2niix_extent(mr_head_dir, tmp_path, threshold)
    voxel = max(volume.spacing)
    np.testing.assert_allclose(mesh.bounds[0], lo, atol=voxel)
    np.testing.assert_allclose(mesh.bounds[1], hi, atol=voxel)


def test_errors_name_the_problem(tmp_path: Path):
    folder = write_block_ct(tmp_path / "ct", (1, 0, 0, 0, 1, 0))
    volume = load_volume(str(folder))
    with pytest.raises(ValueError, match="no voxel is above the threshold 5000"):
        surface_mesh(volume, MeshOptions(threshold=5000))
    with pytest.raises(ValueError, match="choose one of bone, skin"):
        MeshOptions(surface="teeth")
    with pytest.raises(ValueError, match="writes one series"):
        MeshExporter("stl", "").export([volume, volume], tmp_path / "x.stl", {})
    volume.modality, volume.units = "MR", ""
    with pytest.raises(ValueError, match="CT \\(Hounsfield\\) threshold"):
        surface_mesh(volume, MeshOptions(surface="bone"))
