"""``ownscan export`` says what ``info``, ``render`` and the viewer say of a series: each warning
once, naming the series and its files, and the exported NIfTI carries them (a comment
extension in the file, ``ConversionWarnings`` in the ``--json`` sidecar). A patient who hands
a scan to a doctor hands on the warning with it."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series

from ownscan.core import assemble
from ownscan.core.cli import main


def _gap(folder: Path) -> list[Path]:
    """A CT with two slices missing: `info` warns of the gap."""
    return write_ct_series(folder, positions=[k * 2.5 for k in range(10) if k not in (4, 5)])


def _lying_sign(folder: Path) -> None:
    """A CT whose header says unsigned over two's-complement pixels, slope 0.5: the load
    (not the headers) finds it."""
    write_ct_series(folder, n_slices=4)
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        hu = np.frombuffer(ds.PixelData, np.int16).astype(np.float64) - 1024
        hu = hu.reshape(ds.Rows, ds.Columns)
        hu[:, :2] = -2000
        ds.PixelData = np.rint(hu / 0.5).astype(np.int16).tobytes()
        ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 0, "0", "0.5"
        ds.save_as(f)


def _warning_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("ownscan export: warning: ")]


def _comment(nii: Path) -> str:
    ext = [e for e in nib.load(nii).header.extensions if e.get_code() == 6]
    assert len(ext) == 1, "one comment extension"
    return ext[0].get_content().decode()


@pytest.mark.parametrize("flags", [["--uncompressed"], []], ids=["nii", "nii.gz"])
def test_export_says_the_series_warnings_once_and_records_them(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _gap(tmp_path / "in")
    (s,) = assemble(tmp_path / "in").series
    assert s.warnings  # what info shows
    assert main(["info", str(tmp_path / "in"), "--json"]) == 0
    info_warnings = json.loads(capsys.readouterr().out)["series"][0]["warnings"]
    assert info_warnings == s.warnings
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), "--json", *flags]) == 0
    lines = _warning_lines(capsys.readouterr().err)
    assert len(lines) == len(info_warnings)  # each once
    for w, ln in zip(info_warnings, lines, strict=True):
        assert ln.endswith(w)
        assert f"series 1 ({s.label};" in ln
        assert str(files[0]) in ln and str(files[-1]) in ln and f"{len(files)} files" in ln
    recorded = [w.replace(str(tmp_path / "in") + "/", "") for w in info_warnings]
    (nii,) = [p for p in out.iterdir() if ".nii" in p.name]
    comment = _comment(nii)
    assert all(w in comment for w in recorded)
    (side,) = out.glob("*.json")
    assert json.loads(side.read_text())["ConversionWarnings"] == recorded
    # the voxels are those of a file without warnings (the extension moves them, no more)
    assert nib.load(nii).get_fdata().shape[2] > 0


def test_a_warning_the_load_finds_is_said_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lying_sign(tmp_path / "in")
    (s,) = assemble(tmp_path / "in").series
    shown = s.load().warnings  # what render and the viewer show
    assert any("cannot be true" in w for w in shown)
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), "--uncompressed", "--json"]) == 0
    lines = _warning_lines(capsys.readouterr().err)
    assert [ln.split("): ", 1)[1] for ln in lines] == shown
    # the file records them with the files named inside their folder: a folder on the user's
    # disk may be named after the patient, and the NIfTI carries no identity
    folder = str(tmp_path / "in") + "/"
    assert any(folder in w for w in shown)
    recorded = [w.replace(folder, "") for w in shown]
    (nii,) = out.glob("*.nii")
    assert all(w in _comment(nii) for w in recorded)
    assert str(tmp_path) not in _comment(nii)
    side = json.loads(next(out.glob("*.json")).read_text())
    assert side["ConversionWarnings"] == recorded


@pytest.mark.parametrize("fmt", ["dicom-anon", "png"])
def test_other_exporters_say_them_too(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _gap(tmp_path / "in")
    (s,) = assemble(tmp_path / "in").series
    main(["export", str(tmp_path / "in"), "--format", fmt, "-o", str(tmp_path / "out")])
    lines = _warning_lines(capsys.readouterr().err)
    assert len(lines) == len(s.warnings)
    assert all(ln.endswith(w) for ln, w in zip(lines, s.warnings, strict=True))
    if fmt == "png":  # each picture carries them (PNG's registered keyword Warning)
        from PIL import Image

        recorded = [w.replace(str(tmp_path / "in") + "/", "") for w in s.warnings]
        pngs = sorted((tmp_path / "out").rglob("*.png"))
        assert pngs and all(Image.open(p).text["Warning"] == "\n".join(recorded) for p in pngs)


def test_a_series_without_warnings_gets_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ct_series(tmp_path / "in", n_slices=4)
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), "--uncompressed", "--json"]) == 0
    assert not _warning_lines(capsys.readouterr().err)
    (nii,) = out.glob("*.nii")
    assert not list(nib.load(nii).header.extensions)
    assert "ConversionWarnings" not in json.loads(next(out.glob("*.json")).read_text())
