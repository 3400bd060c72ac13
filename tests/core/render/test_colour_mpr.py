"""Colour volumes (issue 15): a colour stack with slice positions is drawn as a colour MPR,
the same by GL and by the arrays; 3D modes say why not and fall back to it; colour frames
without slice positions (an echo cine) stay frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gl_support import assert_same_picture
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ownscan.core.cli import main
from ownscan.core.render import ArrayRenderer, GLRenderer
from ownscan.core.render._colour import colour_mpr, pane_layout, spatial_colour
from ownscan.core.volume import Volume

pytestmark = pytest.mark.usefixtures("gl_check")

RED, GREEN, BLUE = (230, 30, 30), (30, 220, 30), (40, 60, 240)
NZ, NY, NX, MM = 24, 40, 48, 2.0


def balls() -> np.ndarray:
    """RGB voxels (z, y, x, 3) in LPS mm about the centre: a red ball on the patient's left,
    a green one anterior, a blue one superior, on dark grey."""
    k, j, i = np.mgrid[:NZ, :NY, :NX]
    x, y, z = ((i - (NX - 1) / 2) * MM, (j - (NY - 1) / 2) * MM, (k - (NZ - 1) / 2) * MM)
    rgb = np.full((NZ, NY, NX, 3), 20, dtype=np.uint8)
    for (cx, cy, cz, r), colour in (
        ((25, 0, 0, 10), RED),
        ((0, -25, 0, 10), GREEN),
        ((0, 0, 14, 8), BLUE),
    ):
        rgb[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < r * r] = colour
    return rgb


@pytest.fixture(scope="module")
def colour_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The balls as an axial stack of RGB secondary captures with positions (real files)."""
    out = tmp_path_factory.mktemp("colour-stack")
    rgb = balls()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(NZ):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.Modality, ds.PatientName, ds.PatientID = "OT", "Colour^Balls", "C3"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-(NX - 1) / 2 * MM, -(NY - 1) / 2 * MM, (k - (NZ - 1) / 2) * MM]
        ds.PixelSpacing, ds.SliceThickness = [MM, MM], MM
        ds.Rows, ds.Columns = NY, NX
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
        ds.PixelData = np.ascontiguousarray(rgb[k]).tobytes()
        ds.save_as(out / f"s{k:03d}.dcm", enforce_file_format=True)
    return out


def _centroid(pane: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, float]:
    """(x, y) of the pixels of ``colour``, as fractions of the pane (0.5 = centre)."""
    m = np.all(np.abs(pane[..., :3].astype(int) - colour) <= 2, axis=-1)
    assert m.sum() > 30, f"{colour} is in the pane"
    ys, xs = np.nonzero(m)
    return xs.mean() / pane.shape[1], ys.mean() / pane.shape[0]


def test_a_colour_stack_is_a_colour_mpr_alike_in_gl_and_arrays(colour_stack, tmp_path, capsys):
    pics = {}
    for backend in ("gl", "cpu"):
        out = tmp_path / f"{backend}.png"
        argv = ["render", str(colour_stack), "--mode", "mpr", "--backend", backend, "-o", str(out)]
        assert main([*argv, "--size", "300x300"]) == 0
        said = capsys.readouterr().out
        assert "colour mpr, three planes" in said
        pics[backend] = np.asarray(Image.open(out).convert("RGBA"))
    assert_same_picture(pics["gl"], pics["cpu"], tmp_path, "colour-mpr")
    # three planes in a 2 x 2 grid: axial, coronal, sagittal, each in the radiology view
    (ax, ay, pw, ph), (cx, cy, _, _), (sx, sy, _, _) = pane_layout((300, 300), 3)
    axial = pics["gl"][ay : ay + ph, ax : ax + pw]
    coronal = pics["gl"][cy : cy + ph, cx : cx + pw]
    sagittal = pics["gl"][sy : sy + ph, sx : sx + pw]
    x, _ = _centroid(axial, RED)
    assert x > 0.6  # the patient's left on the image's right
    _, y = _centroid(axial, GREEN)
    assert y < 0.4  # anterior at the top
    _, y = _centroid(coronal, BLUE)
    assert y < 0.45  # superior at the top
    x, _ = _centroid(coronal, RED)
    assert x > 0.6
    x, _ = _centroid(sagittal, GREEN)
    assert x < 0.4  # sagittal: anterior on the left
    # the colours as stored inside the balls (trilinear between equal voxels)
    inside = np.all(axial[..., :3] == RED, axis=-1)
    assert inside.sum() > 100


def test_3d_modes_fall_back_to_the_colour_mpr_in_one_line(colour_stack, tmp_path, capsys):
    mpr, dvr = tmp_path / "mpr.png", tmp_path / "dvr.png"
    assert main(["render", str(colour_stack), "--mode", "mpr", "-o", str(mpr)]) == 0
    capsys.readouterr()
    assert main(["render", str(colour_stack), "--mode", "dvr", "-o", str(dvr)]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "note:" in line]
    assert notes == [
        "ownscan render: note: mode dvr: a colour volume has three values per voxel, not one "
        "to project, composite or shade; drawn as a colour MPR"
    ]
    assert np.array_equal(np.asarray(Image.open(mpr)), np.asarray(Image.open(dvr)))


def test_one_plane_when_asked_and_planes_outside_refused(colour_stack, tmp_path, capsys):
    out = tmp_path / "cor.png"
    argv = ["render", str(colour_stack), "--mode", "mpr", "--plane", "coronal", "-o", str(out)]
    assert main([*argv, "--size", "200x100"]) == 0
    assert "one plane" in capsys.readouterr().out
    pane = np.asarray(Image.open(out))
    x, _ = _centroid(pane, RED)
    assert x > 0.6
    assert main([*argv, "--offset", "9999"]) == 2
    assert "the plane lies outside the volume" in capsys.readouterr().err


def test_an_echo_cine_stays_frames_and_says_why(pydicom_files, tmp_path, capsys):
    # US Multi-frame, Frame Increment Pointer = Frame Time (33 ms): 120 frames in time
    src = str(pydicom_files["color3d_jpeg_baseline.dcm"])
    assert main(["render", src, "--mode", "mpr", "-o", str(tmp_path / "c.png")]) == 0
    out, err = capsys.readouterr()
    assert "colour frames without slice positions (a cine loop or sweep, not a volume)" in err
    assert "2D image" in out


def test_colour_mpr_through_the_api_with_an_oblique_volume(gl_ctx, tmp_path):
    """The function the command uses, on a volume placed obliquely: GL and arrays agree."""
    c, s = np.cos(np.radians(25)), np.sin(np.radians(25))
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    vol = Volume(balls(), (MM, MM, MM), (-40.0, -50.0, -20.0), direction, modality="OT")
    assert spatial_colour(vol)
    gl = GLRenderer(ctx=gl_ctx)
    try:
        a, cams = colour_mpr(gl, vol, {"zoom": 1.2}, (160, 120))
    finally:
        gl.close()
    b, _ = colour_mpr(ArrayRenderer(prefer_gpu=False), vol, {"zoom": 1.2}, (160, 120))
    assert len(cams) == 3
    assert_same_picture(a, b, tmp_path, "colour-oblique")
    spread = a[..., :3].max(axis=-1).astype(int) - a[..., :3].min(axis=-1)
    assert (spread > 150).sum() > 50  # colour survives
