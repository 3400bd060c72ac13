"""2D pictures (issue 15): radiographs, ultrasound, secondary captures and colour images are
drawn flat, with orientation labels and a scale only where the file gives them, and grey
images through the DICOM display pipeline (compared with dcmtk's dcmj2pnm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ownscan.core.assembly import load_volume
from ownscan.core.cli import main
from ownscan.core.render import annotate, draw_image, image_labels, scale_words

YELLOW = np.array([255, 230, 0])
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
CLASSES = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "OT": SC_CLASS,
}


def write_2d(path: Path, modality: str, pixels: np.ndarray, **attrs: object) -> Path:
    """A real 2D DICOM file (explicit VR little endian) with the given attributes."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CLASSES[modality]
    ds.file_meta.MediaStorageSOPInstanceUID = sop = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = CLASSES[modality], sop
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Pictures", "P15"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Rows, ds.Columns = pixels.shape[:2]
    colour = pixels.ndim == 3
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _yellow(img: np.ndarray) -> np.ndarray:
    return np.all(np.abs(img[..., :3].astype(int) - YELLOW) < 40, axis=-1)


def _edges_with_labels(img: np.ndarray, before: np.ndarray) -> set[str]:
    """The edges where ``annotate`` wrote yellow letters onto ``before``."""
    h, w = img.shape[:2]
    y = _yellow(img) & np.any(img != before, axis=-1)
    boxes = {
        "top": y[: h // 10, w // 3 : 2 * w // 3],
        "bottom": y[-h // 10 :, w // 3 : 2 * w // 3],
        "left": y[h // 3 : 2 * h // 3, : w // 10],
        "right": y[h // 3 : 2 * h // 3, -w // 10 :],
    }
    return {side for side, b in boxes.items() if b.sum() > 5}


def _bar_length(img: np.ndarray) -> int:
    """The longest run of white pixels on one row of the picture's lower left quarter."""
    h, w = img.shape[:2]
    white = np.all(img[h * 3 // 4 :, : w // 2, :3] == 255, axis=-1)
    best = 0
    for row in white:
        run = 0
        for v in row:
            run = run + 1 if v else 0
            best = max(best, run)
    return best


def test_radiograph_is_drawn_not_black_and_says_so(tmp_path, capsys, pydicom_files):
    out = tmp_path / "cr.png"
    assert main(["render", str(pydicom_files["RG1_UNCR.dcm"]), "-o", str(out)]) == 0
    said, err = capsys.readouterr()
    assert "drawn as a 2D picture (mode dvr needs a 3D volume)" in err
    assert "CR image 1841x1955x1 no pixel spacing, uint16" in said  # not "spacing 1x1x1 mm"
    img = np.asarray(Image.open(out))
    assert img.mean() > 60 and img.std() > 30  # a chest, not a black square


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm", "RG3_UNCR.dcm"])
def test_monochrome1_radiograph_matches_dcmtk(tmp_path, pydicom_files, name):
    """At its own size the picture is dcmj2pnm's with the file's first window, to a level."""
    if shutil.which("dcmj2pnm") is None:
        pytest.fail("dcmtk's dcmj2pnm is required (.ci/system-packages.txt: dcmtk)")
    ref_png = tmp_path / "ref.png"
    subprocess.run(
        ["dcmj2pnm", "+on", "+Wi", "1", str(pydicom_files[name]), str(ref_png)],
        check=True,
        capture_output=True,
    )
    ref = np.asarray(Image.open(ref_png)).astype(int)
    v = load_volume(pydicom_files[name])
    img, where = draw_image(v, (v.shape[2], v.shape[1]))
    assert where.box == (0, 0, v.shape[2], v.shape[1])
    diff = np.abs(img[..., 0].astype(int) - ref)
    assert diff.max() <= 1 and ref.std() > 20


def test_single_mr_slice_is_a_picture_not_a_line(tmp_path, capsys, pydicom_files):
    out = tmp_path / "mr.png"
    argv = ["render", str(pydicom_files["MR_small.dcm"]), "--mode", "mip", "-o", str(out)]
    assert main([*argv, "--size", "128x128"]) == 0
    img = np.asarray(Image.open(out))[..., 0]
    assert (img > 10).mean() > 0.9  # the 64x64 slice fills the square picture


@pytest.mark.parametrize("name", ["US1_UNCR.dcm", "SC_rgb.dcm", "color3d_jpeg_baseline.dcm"])
def test_colour_images_render_alike_with_gl_and_arrays(tmp_path, capsys, pydicom_files, name):
    pics = []
    for backend in ("gl", "cpu"):
        out = tmp_path / f"{backend}.png"
        argv = ["render", str(pydicom_files[name]), "-o", str(out), "--backend", backend]
        assert main([*argv, "--size", "200x160"]) == 0
        pics.append(np.asarray(Image.open(out)))
    assert np.array_equal(pics[0], pics[1])
    assert pics[0].std() > 10
    # colour survives: some pixels have channels far apart
    spread = pics[0].max(axis=-1).astype(int) - pics[0].min(axis=-1)
    assert (spread > 60).sum() > 5


def test_rgb_and_ybr_secondary_captures_show_the_same_colours(pydicom_files):
    rgb = load_volume(pydicom_files["SC_rgb.dcm"])
    ybr = load_volume(pydicom_files["SC_ybr_full_uncompressed.dcm"])
    a, _ = draw_image(rgb, (100, 100))
    b, _ = draw_image(ybr, (100, 100))
    assert tuple(a[5, 50, :3]) == (255, 0, 0)  # the top band is red
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 8  # YBR is stored quantised


def test_colour_stack_frame_choice(tmp_path, capsys, pydicom_files):
    src = str(pydicom_files["color3d_jpeg_baseline.dcm"])
    outs = []
    for n in ("1", "60"):
        out = tmp_path / f"f{n}.png"
        assert main(["render", src, "--frame", n, "-o", str(out), "--size", "64x64"]) == 0
        outs.append(np.asarray(Image.open(out)))
    assert not np.array_equal(outs[0], outs[1])
    assert main(["render", src, "--frame", "121", "-o", str(tmp_path / "x.png")]) == 2
    assert "--frame 121: this series has frames 1..120" in capsys.readouterr().err


def test_patient_orientation_labels_the_radiograph_head_to_feet(pydicom_files):
    rg1 = load_volume(pydicom_files["RG1_UNCR.dcm"])  # Patient Orientation L\F
    assert rg1.orientation_source == "patient_orientation"
    assert image_labels(rg1) == {"right": "L", "left": "R", "bottom": "I", "top": "S"}
    rg3 = load_volume(pydicom_files["RG3_UNCR.dcm"])  # R\F
    assert image_labels(rg3) == {"right": "R", "left": "L", "bottom": "I", "top": "S"}
    mr = load_volume(pydicom_files["MR_small.dcm"])  # axial slice with its orientation
    assert image_labels(mr) == {"right": "L", "left": "R", "bottom": "P", "top": "A"}


def test_no_orientation_means_no_labels(pydicom_files):
    us = load_volume(pydicom_files["US1_UNCR.dcm"])
    assert us.orientation_source == "" and image_labels(us) == {}
    img, where = draw_image(us, (256, 256))
    ann = annotate(img, None, where.pixel_mm, labels=image_labels(us))
    assert _edges_with_labels(ann, img) == set() and where.pixel_mm is None


GENERATED = [
    # modality, attributes, expected labels, spacing source, scale words
    ("CR", {"PatientOrientation": ["L", "F"], "PixelSpacing": [0.5, 0.5]}, 4, "pixel", ""),
    ("DX", {"PatientOrientation": ["P", "F"], "ImagerPixelSpacing": [0.5, 0.5]}, 4, "detector",
     "at detector"),
    ("MG", {"ImagerPixelSpacing": [0.5, 0.5]}, 0, "detector", "at detector"),
    ("OT", {}, 0, "", "no scale: pixel size unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("modality", "attrs", "n_labels", "source", "words"), GENERATED)
def test_generated_images_labels_and_scale_bar(tmp_path, modality, attrs, n_labels, source, words):
    pixels = np.zeros((100, 200), np.uint16)  # 200 x 100 pixels: 100 x 50 mm at 0.5 mm
    pixels[40:60, 80:120] = 1000
    path = write_2d(
        tmp_path / "x.dcm", modality, pixels, WindowCenter=500, WindowWidth=1000, **attrs
    )
    v = load_volume(path)
    assert v.spacing_source == source and scale_words(v) == words
    img, where = draw_image(v, (512, 512))
    assert where.box == (0, 128, 512, 384)  # 2:1 fitted to the width
    ann = annotate(img, None, where.pixel_mm, labels=image_labels(v), scale_words=words)
    assert len(_edges_with_labels(ann, img)) == n_labels
    if source:
        # 100 mm on 512 px: the bar is the largest 1-2-5 length under a quarter width (25 mm
        # -> 20 mm), 20 / (100 / 512) = 102.4 px (+ the 2 px tick marks)
        assert where.pixel_mm == pytest.approx(100 / 512)
        assert 100 <= _bar_length(ann) <= 106
    else:
        assert where.pixel_mm is None and _bar_length(ann) < 30  # text only, no bar


def test_ultrasound_regions_give_the_scale(tmp_path):
    from pydicom.sequence import Sequence

    region = Dataset()
    region.RegionSpatialFormat = 1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.025
    region.PhysicalDeltaY = 0.025
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[..., 0] = 200
    path = write_2d(tmp_path / "us.dcm", "US", rgb, SequenceOfUltrasoundRegions=Sequence([region]))
    v = load_volume(path)
    assert v.spacing_source == "ultrasound" and v.spacing[:2] == pytest.approx((0.25, 0.25))
    assert scale_words(v) == "ultrasound region" and image_labels(v) == {}
    img, where = draw_image(v, (320, 240))
    assert where.pixel_mm == pytest.approx(0.125)  # 40 mm on 320 px
    assert tuple(img[120, 160, :3]) == (200, 0, 0)


def test_info_lists_the_missing_position_and_spacing(capsys, pydicom_files):
    import json

    assert main(["info", str(pydicom_files["US1_UNCR.dcm"])]) == 0
    text = capsys.readouterr().out
    assert "no position or orientation in the patient" in text
    assert "no pixel spacing: sizes are in pixels only" in text
    assert main(["info", "--json", str(pydicom_files["RG1_UNCR.dcm"])]) == 0
    got = json.loads(capsys.readouterr().out)
    warnings = [w for p in _series_dicts(got) for w in p["warnings"]]
    assert any("Patient Orientation only" in w for w in warnings)
    assert "no pixel spacing: sizes are in pixels only" in warnings


def _series_dicts(obj: object) -> list[dict]:
    """Every dict with a ``warnings`` list in ``info --json``'s output, wherever it nests."""
    found: list[dict] = []
    if isinstance(obj, dict):
        if isinstance(obj.get("warnings"), list) and "kind" in obj:
            found.append(obj)
        for v in obj.values():
            found += _series_dicts(v)
    elif isinstance(obj, list):
        for v in obj:
            found += _series_dicts(v)
    return found


def _dcmtk(path: Path, out: Path, *options: str) -> np.ndarray:
    if shutil.which("dcmj2pnm") is None:
        pytest.fail("dcmtk's dcmj2pnm is required (.ci/system-packages.txt: dcmtk)")
    subprocess.run(["dcmj2pnm", "+on", *options, str(path), str(out)], check=True)
    return np.asarray(Image.open(out)).astype(int)


def _own(path: Path, window: object = None) -> np.ndarray:
    v = load_volume(path)
    img, _ = draw_image(v, (v.shape[2], v.shape[1]), window=window)  # type: ignore[arg-type]
    return img[..., 0].astype(int)


def test_modality_and_voi_lut_tables_match_dcmtk(tmp_path, pydicom_files):
    """vlut_04: a VOI LUT table and no window; mlut_18: a Modality LUT table (signed input)."""
    from ownscan.core.volume import WindowPreset

    vlut = pydicom_files["vlut_04.dcm"]
    ref = _dcmtk(vlut, tmp_path / "v.png", "+Wl", "1")
    got = _own(vlut)
    assert np.abs(got - ref).max() <= 1 and ref.std() > 20
    mlut = pydicom_files["mlut_18.dcm"]
    v = load_volume(mlut)
    assert v.modality_lut is not None and v.modality_lut.first == -2048
    out = v.modality_lut.apply(v.voxels[0])
    lo, hi = float(out.min()), float(out.max())
    ref = _dcmtk(mlut, tmp_path / "m.png", "+Wm")  # dcmtk's min-max window
    got = _own(mlut, WindowPreset("min-max", hi - lo, (hi + lo) / 2))
    assert np.abs(got - ref).max() <= 1 and ref.std() > 20


@pytest.mark.parametrize(
    ("attrs", "options"),
    [
        ({"VOILUTFunction": "SIGMOID"}, ["+Wi", "1"]),
        ({"VOILUTFunction": "LINEAR"}, ["+Wi", "1"]),
        ({"PhotometricInterpretation": "MONOCHROME1"}, ["+Wi", "1"]),
        ({"PresentationLUTShape": "INVERSE"}, ["+Wi", "1"]),
    ],
    ids=["sigmoid", "linear", "monochrome1", "inverse"],
)
def test_generated_dx_display_pipeline_matches_dcmtk(tmp_path, attrs, options):
    """12-bit DX ramps with the file's window, each display rule against dcmj2pnm."""
    ramp = np.tile(np.linspace(0, 4095, 256).astype(np.uint16), (64, 1))
    ramp[32:] = ramp[32:, ::-1]
    attrs = {"WindowCenter": 1500, "WindowWidth": 1200, "BitsStored": 12, "HighBit": 11, **attrs}
    path = write_2d(tmp_path / "dx.dcm", "DX", ramp, **attrs)
    ref = _dcmtk(path, tmp_path / "ref.png", *options)
    got = _own(path)
    assert np.abs(got - ref).max() <= 1
    assert ref.min() <= 2 and ref.max() >= 253  # the window spans the whole grey range
    inverted = attrs.get("PresentationLUTShape") == "INVERSE" or "MONOCHROME1" in str(attrs)
    assert (got[0, 0] >= 253) if inverted else (got[0, 0] <= 2)  # stored 0: dark unless inverted
