"""``ownscan view`` end to end: a real process, a real window under Xvfb, real DICOM files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from viewer_phantom import phantom


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32-slice CT series written with pydicom from the phantom (HU + 1024 stored)."""
    folder = tmp_path_factory.mktemp("ct")
    vol = phantom(n=32, spacing=(0.9, 0.9, 2.0))
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(vol.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{k:03d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID = "Phantom^Viewer", "VIEW1"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240102", "101500", "1", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 3, k + 1
        ds.SeriesDescription = "viewer test CT"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [float(x) for x in vol.index_to_lps([0, 0, k])]
        ds.PixelSpacing = [0.9, 0.9]
        ds.SliceThickness = 2.0
        ds.Rows, ds.Columns = vol.shape[1], vol.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = (vol.voxels[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)
    return folder


def ownscan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ownscan.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _check_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as im:
        assert im.size == size
        img = np.asarray(im.convert("RGB"))
    assert img.std() > 20 and (img.max(axis=-1) > 150).mean() > 0.02
    return img


def test_view_source_without_import(xvfb: str, ct_folder: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    env = {**os.environ, "OWNSCAN_LIBRARY": str(lib)}
    out = tmp_path / "shot.png"
    r = ownscan(
        "view",
        str(ct_folder),
        "--no-import",
        "--screenshot",
        str(out),
        "--size",
        "640x480",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert f"saved {out}" in r.stdout
    _check_png(out, (640, 480))
    assert not lib.exists()  # --no-import keeps nothing


def test_view_imports_then_shows_the_library(xvfb: str, ct_folder: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    out = tmp_path / "a.png"
    r = ownscan(
        "view", str(ct_folder), "--library", str(lib), "--screenshot", str(out), "--size", "640x480"
    )
    assert r.returncode == 0, r.stderr
    assert "32 imported" in r.stdout
    first = _check_png(out, (640, 480))
    from ownscan.core.library import open_library

    with open_library(lib, create=False) as opened:
        assert [s.description for s in opened.series()] == ["viewer test CT"]
    # later, without SOURCE: the library's series, the same picture
    out2 = tmp_path / "b.png"
    r = ownscan("view", "--library", str(lib), "--screenshot", str(out2), "--size", "640x480")
    assert r.returncode == 0, r.stderr
    second = _check_png(out2, (640, 480))
    assert (np.abs(first.astype(int) - second.astype(int)) > 8).mean() < 0.01


def test_view_series_option(xvfb: str, ct_folder: Path, tmp_path: Path) -> None:
    import pydicom

    uid = pydicom.dcmread(next(ct_folder.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID
    out = tmp_path / "s.png"
    r = ownscan(
        "view",
        str(ct_folder),
        "--no-import",
        "--series",
        uid[:12],
        "--screenshot",
        str(out),
        "--size",
        "320x240",
    )
    assert r.returncode == 0, r.stderr
    r = ownscan(
        "view", str(ct_folder), "--no-import", "--series", "9.9.9", "--screenshot", str(out)
    )
    assert r.returncode == 2 and "--series '9.9.9': no series matches" in r.stderr


def test_interactive_window_quits_on_q(xvfb: str) -> None:
    """The real event loop: the window appears, a real key press (xdotool) closes it."""
    import shutil

    xdotool = shutil.which("xdotool")
    assert xdotool is not None, "xdotool is not installed (see .ci/system-packages.txt)"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ownscan.core.cli", "view", "--sample", "--size", "400x300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        found = subprocess.run(
            [xdotool, "search", "--sync", "--pid", str(proc.pid)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        wid = found.stdout.split()[0]
        subprocess.run([xdotool, "mousemove", "--window", wid, "50", "50"], check=True)
        for _ in range(50):  # the loop wakes up on the event; repeat until it has seen one
            subprocess.run([xdotool, "key", "q"], check=True)
            try:
                proc.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                continue
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/scans", "--no-import"], "/nonexistent/scans"),
        (["--size", "big"], "--size 'big'"),
        (["--no-import"], "--no-import needs a SOURCE"),
    ],
    ids=["missing-source", "bad-size", "no-import-alone"],
)
def test_view_errors_are_one_line(xvfb: str, args: list[str], message: str) -> None:
    r = ownscan("view", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr


def test_view_without_display_says_so(ct_folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = ownscan("view", str(ct_folder), "--no-import", "--screenshot", "x.png", env=env)
    assert r.returncode == 2
    assert "cannot open a window" in r.stderr and "Traceback" not in r.stderr
    assert "ownscan render" in r.stderr and "xvfb-run" in r.stderr  # the ways out
    assert r.stderr.count("\n") == 1
