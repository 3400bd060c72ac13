"""Grey cines without positions are frames in time, never a volume with invented spacing.

A multi-frame grey image of one plane over time (ultrasound cine, fluoroscopy, X-ray
angiography: Frame Time / Frame Time Vector / Cine Rate, no Image Position) was assembled as
a stack with a stand-in 1 mm between frames: ``info`` called it a stack, the NIfTI was a 3D
volume 1 mm deep per frame (as dcm2niix writes it: "Bogus spatial matrix"), and the movie
and png exporters cast rays through it (a MIP turntable of time). Now such a series is a cine
(``Series.cine``): ``info`` says so, the NIfTI holds one plane and its frames along t
(``pixdim[4]`` the frame time, the sidecar's ``FrameTimesStart``), the pictures are its frames
and a 3D mode is refused. A grey multi-frame with neither positions nor timing stays a stack
of frames whose spacing is assumed, and says so everywhere.

The oracle for the pixels: pydicom's decoding and dcm2niix's (which stacks the frames along
z, rows flipped); for the times, the header values written here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from niicompare import dcm2niix
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ownscan.core import assemble
from ownscan.core.cli import main

XA = "1.2.840.10008.5.1.4.1.1.12.1"  # X-Ray Angiographic Image Storage
US = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
N, ROWS, COLS = 6, 24, 32


def _cine(
    path: Path,
    *,
    sop_class: str = US,
    modality: str = "US",
    bits: int = 8,
    pointer: int | None = 0x00181063,
    **attrs: object,
) -> np.ndarray:
    """A grey multi-frame without Image Position / Orientation: frame k is a ramp plus 10k
    (each frame its own values); ``attrs``: FrameTime, FrameTimeVector, CineRate... Its
    stored values."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Cine^Grey", "C1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyDate, ds.StudyTime = "20240301", "120000"
    ds.SeriesNumber, ds.InstanceNumber = 4, 1
    ds.NumberOfFrames = N
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if pointer is not None:
        ds.FrameIncrementPointer = pointer
    for key, value in attrs.items():
        setattr(ds, key, value)
    dt = np.uint8 if bits == 8 else np.uint16
    ramp = np.add.outer(np.arange(ROWS), np.arange(COLS))
    pix = np.stack([ramp + 10 * k for k in range(N)]).astype(dt)
    ds.PixelData = pix.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return pix


def _one(folder: Path):  # type: ignore[no-untyped-def]
    found = assemble(folder)
    assert not found.errors and len(found.series) == 1, (found.errors, found.series)
    return found.series[0]


@pytest.mark.parametrize(
    ("attrs", "rate", "times"),
    [
        ({"FrameTime": 40.0}, (25.0, "FrameTime"), [0.04 * k for k in range(N)]),
        (
            {"FrameTimeVector": [0, 50, 50, 50, 50, 50], "pointer": 0x00181065},
            (20.0, "FrameTimeVector"),
            [0.05 * k for k in range(N)],
        ),
        ({"CineRate": 15, "pointer": None}, (15.0, "CineRate"), None),
    ],
)
def test_a_timed_grey_cine_is_frames_in_time(tmp_path: Path, attrs, rate, times) -> None:  # type: ignore[no-untyped-def]
    pix = _cine(tmp_path / "in" / "c.dcm", **attrs)
    s = _one(tmp_path / "in")
    assert s.kind == "frames" and s.cine == rate
    if times is None:
        assert s.frame_times is None
    else:
        assert s.frame_times == pytest.approx(times)
    # no invented spacing: not a stack, and nothing says "1 mm between frames"
    assert not any("mm between frames" in w or "spacing assumed" in w for w in s.warnings)
    words = s.describe()
    assert f"US cine {COLS}x{ROWS}, {N} frames at {rate[0]:g} frames/s" in words, words
    vol = s.load()
    np.testing.assert_array_equal(vol.voxels, pix)  # the frames in the file's order
    assert vol.extra["cine"] is True and "cine" in vol.describe()


def test_info_says_cine(tmp_path: Path) -> None:
    _cine(tmp_path / "in" / "c.dcm", FrameTime=40.0)
    exe = [sys.executable, "-m", "ownscan.core.cli", "info"]
    text = subprocess.run(
        [*exe, str(tmp_path / "in")], capture_output=True, text=True, check=True
    ).stdout
    assert f"US cine {COLS}x{ROWS}, {N} frames at 25 frames/s (Frame Time)" in text, text
    assert "between frames" not in text
    out = json.loads(
        subprocess.run(
            [*exe, "--json", str(tmp_path / "in")], capture_output=True, text=True, check=True
        ).stdout
    )
    cine = out["series"][0]["cine"]
    assert cine["frames"] == N and cine["fps"] == 25.0 and cine["rate_from"] == "FrameTime"
    assert cine["frame_times_s"] == pytest.approx([0.04 * k for k in range(N)])


def test_an_angiography_run_is_a_cine_too(tmp_path: Path) -> None:
    # X-ray angiography / fluoroscopy: 16-bit grey, Frame Time, no position
    pix = _cine(tmp_path / "in" / "xa.dcm", sop_class=XA, modality="XA", bits=16, FrameTime=66.7)
    s = _one(tmp_path / "in")
    assert s.cine is not None and s.cine[1] == "FrameTime"
    np.testing.assert_array_equal(s.load().voxels, pix)


def test_a_display_rate_alone_is_a_cine_whose_timing_is_said(tmp_path: Path) -> None:
    _cine(tmp_path / "in" / "c.dcm", pointer=None, RecommendedDisplayFrameRate=30)
    s = _one(tmp_path / "in")
    assert s.cine == (30.0, "RecommendedDisplayFrameRate")
    assert any("Recommended Display Frame Rate" in w and "advice" in w for w in s.warnings)


def test_the_nifti_of_a_cine_is_one_plane_over_time(tmp_path: Path) -> None:
    pix = _cine(tmp_path / "in" / "c.dcm", FrameTime=40.0)
    for flag in ("--uncompressed", None):  # straight into the file, and through nibabel
        out = tmp_path / f"out{flag}"
        args = ["export", str(tmp_path / "in"), "-o", str(out), "--json"]
        assert main([*args, *([flag] if flag else [])]) == 0
        (nii,) = sorted(out.glob("*.nii*"))
        img = nib.load(nii)
        assert img.shape == (COLS, ROWS, 1, N)  # (x, y, one plane, t): not N slices
        assert img.header.get_zooms()[3] == pytest.approx(0.04)
        assert img.header.get_xyzt_units() == ("mm", "sec")
        assert b"cine" in bytes(img.header["descrip"])
        a = np.asarray(img.dataobj)
        np.testing.assert_array_equal(a[:, :, 0, :], pix.transpose(2, 1, 0))
        side = json.loads((out / (nii.name.split(".nii")[0] + ".json")).read_text())
        assert side["FrameTimesStart"] == pytest.approx([0.04 * k for k in range(N)])
    # dcm2niix (1.0.20220720) stacks the frames 1 mm apart ("Bogus spatial matrix"): the
    # same frames (its rows flipped), in space where they are time
    (theirs,) = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    b = np.asarray(nib.load(theirs).dataobj)
    assert b.shape == (COLS, ROWS, N)
    np.testing.assert_array_equal(a[:, :, 0, :], b[:, ::-1, :])


def test_pictures_of_a_cine_are_its_frames_and_3d_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    from ownscan.core.errors import UsageError
    from ownscan.plugins.pictures import MovieExporter, PngExporter

    _cine(tmp_path / "in" / "c.dcm", FrameTime=40.0)
    vol = _one(tmp_path / "in").load()
    cpu = {"backend": "cpu"}
    written = PngExporter().export([vol], tmp_path / "png", cpu)
    assert [p.name for p in written] == [f"frame_{k:04d}.png" for k in range(1, N + 1)]
    with Image.open(written[0]) as im:
        assert im.size == (COLS, ROWS)  # the frame as stored, not a rendered view
    gif, beside = MovieExporter().export([vol], tmp_path / "c.gif", cpu)
    assert beside.name == "c.gif.warnings.txt"  # its warnings (no place in the patient)
    with Image.open(gif) as im:
        assert im.n_frames == N  # a cine through its frames, not a 72-picture turntable
        assert im.info["duration"] == 40  # played in its own time (Frame Time 40 ms), not 24/s
    for exporter, out in ((MovieExporter(), tmp_path / "m.gif"), (PngExporter(), tmp_path / "p")):
        with pytest.raises(UsageError, match=r"--mode mip: this series is a cine .* not a volume"):
            exporter.export([vol], out, {**cpu, "mode": "mip"})
    assert not (tmp_path / "m.gif").exists()


def test_frames_without_positions_or_timing_say_their_spacing_is_assumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nothing says time or place: kept a stack of frames (as before), the warning everywhere
    _cine(tmp_path / "in" / "c.dcm", pointer=None)
    s = _one(tmp_path / "in")
    assert s.kind == "frames" and s.cine is None
    (said,) = [w for w in s.warnings if "spacing assumed" in w]
    assert "slices or time points is not known" in said and "1 mm between frames" in said
    assert main(["info", str(tmp_path / "in")]) == 0
    assert said in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), "--uncompressed"]) == 0
    assert said in capsys.readouterr().err
    (nii,) = out.glob("*.nii")
    img = nib.load(nii)
    assert img.shape == (COLS, ROWS, N)  # a stack, as before, 1 mm assumed and said in it
    assert said.encode() in b"".join(e.get_content() for e in img.header.extensions)
    # its pictures are its frames too, and a 3D view of it is refused
    from ownscan.core.errors import UsageError
    from ownscan.plugins.pictures import MovieExporter

    with pytest.raises(UsageError, match="without slice positions or timing"):
        MovieExporter().export([s.load()], tmp_path / "m.gif", {"backend": "cpu", "mode": "dvr"})


def test_a_pointer_to_slices_without_positions_is_no_cine(tmp_path: Path) -> None:
    # Frame Increment Pointer names Slice Location Vector: the frames are slices, and with
    # no position they cannot be placed; a Cine Rate beside it does not make them time
    _cine(
        tmp_path / "in" / "c.dcm",
        pointer=0x00182005,
        SliceLocationVector=[float(k) for k in range(N)],
        CineRate=15,
    )
    s = _one(tmp_path / "in")
    assert s.cine is None
    assert any("spacing assumed" in w for w in s.warnings)
    vol = s.load()
    assert vol.extra["frame_rate"] is None and not vol.extra["cine"]
