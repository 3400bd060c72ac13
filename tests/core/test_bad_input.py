"""Bad input: one clear line per bad file naming it, the rest still loads, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ctgen import write_ct_series
from niicompare import canonical
from pydicom import dcmread


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("damaged")
    files = write_ct_series(folder, n_slices=8)
    bad = {}
    # a file cut short in the middle of its pixel data
    data = files[3].read_bytes()
    files[3].write_bytes(data[: len(data) - 1000])
    bad["truncated"] = files[3]
    # Rows x Columns that disagree with the pixel data
    ds = dcmread(files[5])
    ds.Rows = 60
    ds.save_as(files[5])
    bad["size"] = files[5]
    # a preamble and DICM followed by garbage
    p = folder / "garbage.dcm"
    p.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 8)
    bad["garbage"] = p
    # not DICOM at all
    (folder / "notes.txt").write_text("my scan notes\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 500)
    # a JPEG 2000 file whose code stream is damaged
    src = folder / "j2k_src.dcm"
    shutil.copy(files[6], src)
    out = folder / "IMJ2K.dcm"
    subprocess.run(["gdcmconv", "--j2k", str(src), str(out)], check=True)
    src.unlink()
    files[6].unlink()
    raw = bytearray(out.read_bytes())
    soc = raw.index(b"\xff\x4f\xff\x51")  # start of the code stream, then its SIZ header
    raw[soc + 4 : soc + 40] = b"\xff" * 36
    out.write_bytes(bytes(raw))
    bad["stream"] = out
    return folder, bad


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("ownscan")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_info_reports_each_bad_file_once(damaged: tuple[Path, dict[str, Path]]) -> None:
    folder, bad = damaged
    r = _cli("info", str(folder))
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert any(str(bad["truncated"]) in ln and "truncated" in ln for ln in lines), lines
    assert any(str(bad["size"]) in ln and "Rows x Columns (60x64)" in ln for ln in lines), lines
    assert any(str(bad["garbage"]) in ln for ln in lines), lines
    assert any("notes.txt" in ln and "not a DICOM file" in ln for ln in lines), lines
    assert any("photo.jpg" in ln for ln in lines), lines
    assert len(lines) == 5, lines  # the damaged J2K stream shows only when decoding
    # 8 slices - truncated - wrong size = 6 images; their gaps resampled onto 8 grid slices
    assert "CT volume 64x48x8" in r.stdout and "6 image(s)" in r.stdout
    assert "missing slices" in r.stdout


def test_export_still_writes_the_rest(
    damaged: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    folder, bad = damaged
    r = _cli("export", str(folder), "--output", str(tmp_path), "--uncompressed")
    assert "Traceback" not in r.stderr + r.stdout
    assert r.returncode == 1  # written, but not everything was readable
    lines = r.stderr.strip().splitlines()
    stream = [ln for ln in lines if str(bad["stream"]) in ln]
    assert len(stream) == 1, lines
    written = sorted(tmp_path.glob("*.nii"))
    assert len(written) == 1
    vox, _ = canonical(written[0])
    assert vox.shape == (64, 48, 8)  # the 6 readable slices on the regular grid (issue #14)


def test_debug_shows_traceback_for_fatal_errors(tmp_path: Path) -> None:
    r = _cli("info", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "nowhere" in r.stderr
