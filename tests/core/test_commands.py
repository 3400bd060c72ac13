"""``ownscan info`` and ``ownscan export`` end to end (in-process and as the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pytest
from ctgen import write_ct_series
from pydicom.uid import generate_uid

from ownscan.core.cli import main


def test_info_sample_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--sample"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "Patient Jane_Doe (ID 02, F, born 1966-01-01)" in out
    assert "Study 2013-07-17" in out
    assert "[1] Series 401 anat-T1w ownscan sample (2x2x2 mean): MR volume 137x192x192" in out
    assert "spacing 1.4x1.333x1.333 mm, 192 image(s)" in out


def test_info_json_lists_warnings_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ct_series(tmp_path, n_slices=6, positions=[0, 2.5, 5, 10, 12.5, 15])
    (tmp_path / "readme.txt").write_text("hello")
    assert main(["info", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    (s,) = data["series"]
    assert s["modality"] == "CT" and s["shape_zyx"] == [6, 48, 64] and s["kind"] == "volume"
    assert s["spacing_mm"] == pytest.approx([0.7, 0.8, 2.5])
    assert any("missing slices" in w for w in s["warnings"])
    assert data["skipped"] == [{"file": str(tmp_path / "readme.txt"), "reason": "not a DICOM file"}]
    assert "readme.txt" in err


def test_export_sample_default_gz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--sample", "--output", str(tmp_path / "out")]) == 0
    (written,) = (tmp_path / "out").iterdir()
    assert written.name.endswith(".nii.gz")
    assert capsys.readouterr().out.strip() == str(written)
    img = nib.load(written)
    assert img.shape == (137, 192, 192) and img.get_data_dtype() == "int16"


def test_export_series_choice_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = generate_uid()
    write_ct_series(tmp_path / "in", n_slices=3, series_number=1, prefix="A", study_uid=study)
    write_ct_series(tmp_path / "in", n_slices=4, series_number=2, prefix="B", study_uid=study)
    assert main(["export", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--series", "2"]) == 0
    (only,) = (tmp_path / "o").iterdir()
    assert nib.load(only).shape == (64, 48, 4)
    assert main(["export", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--series", "5"]) == 2
    assert "--series 5" in capsys.readouterr().err
    assert (
        main(["export", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--format", "nope"]) == 2
    )
    assert (
        "unknown export format 'nope'; valid: dicom-anon, movie, nifti, obj, ply, png, share, stl"
        in (capsys.readouterr().err)
    )
    assert main(["export", "-o", str(tmp_path / "x")]) == 2
    assert "--sample" in capsys.readouterr().err


def test_console_script_help_and_sample() -> None:
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run([str(exe), "info", "--sample"], capture_output=True, text=True, check=True)
    assert "MR volume 137x192x192" in r.stdout and r.stderr == ""
    for cmd in ("info", "export"):
        h = subprocess.run([str(exe), cmd, "--help"], capture_output=True, text=True, check=True)
        assert "--sample" in h.stdout and "--via" in h.stdout


def test_via_names_the_importer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ct_series(tmp_path, n_slices=2)
    assert main(["info", str(tmp_path), "--via", "folder"]) == 0
    assert "CT volume 64x48x2" in capsys.readouterr().out
    assert main(["info", str(tmp_path), "--via", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown importer 'nope'; valid: " in err and "folder" in err
