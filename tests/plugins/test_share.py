"""The share exporter: its DICOMDIR read by dcmtk, its images read back by ownscan's own disc
and zip importers and by dcm2niix to the original voxels; --anonymise leaves no identity."""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from export_data import IDENTIFYING, Study, dcmdump, run, write_study

from ownscan.core.assembly import assemble
from ownscan.core.cli import main
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.disc import DiscImporter
from ownscan.plugins.portal_zip import PortalZipImporter
from ownscan.plugins.share import ShareExporter

REPORT = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return write_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rep") / "radiology report.pdf"
    path.write_bytes(REPORT)
    return path


def volumes(items) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Series number -> (voxels, affine) of what ``items`` assemble into."""
    out = {}
    for s in assemble(items).series:
        vol = s.load()
        out[int(s.info.series_number)] = (vol.voxels, vol.affine)
    return out


def assert_same_volumes(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want) == [1, 2]
    for n in want:
        np.testing.assert_array_equal(got[n][0], want[n][0])
        np.testing.assert_allclose(got[n][1], want[n][1], atol=1e-6)


def test_folder_package_reads_back_everywhere(study: Study, report: Path, tmp_path: Path):
    out = tmp_path / "for dr house"
    rc = main(["export", str(study.root), "--format", "share", "-o", str(out),
               "--report", str(report)])  # fmt: skip
    assert rc == 0
    # dcmtk: the DICOMDIR is a valid Part 10 file and references every image, which all exist
    run("dcmftest", out / "DICOMDIR")
    dump = dcmdump(out / "DICOMDIR")
    refs = [line.split("[", 1)[1].split("]", 1)[0] for line in dump.splitlines()
            if "ReferencedFileID" in line]  # fmt: skip
    assert len(refs) == 13
    for ref in refs:
        path = out.joinpath(*ref.split("\\"))
        assert path.is_file(), ref
        run("dcmftest", path)
    assert dump.count("[PATIENT]") == 1 and dump.count("[STUDY]") == 1
    assert dump.count("[SERIES]") == 2 and dump.count("[IMAGE]") == 13
    # ownscan's disc importer and the originals: the same voxels and geometry
    want = volumes(str(study.root))
    importer = DiscImporter()
    assert importer.claims(str(out))
    assert_same_volumes(volumes(importer.iter_items(str(out), ImportOptions())), want)
    # dcm2niix on the package: the voxels of dcm2niix on the originals
    run("dcm2niix", "-z", "n", "-f", "orig%s", "-o", tmp_path, study.root)
    (tmp_path / "pk").mkdir()
    run("dcm2niix", "-z", "n", "-f", "pk%s", "-o", tmp_path / "pk", out)
    for n in (1, 2):
        a, b = nib.load(tmp_path / f"orig{n}.nii"), nib.load(tmp_path / "pk" / f"pk{n}.nii")
        np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    # the report and the recipient's page
    assert (out / "REPORTS" / "REPORT01.PDF").read_bytes() == REPORT
    page = (out / "INDEX.HTM").read_text()
    assert "DICOMDIR" in page and "REPORTS/REPORT01.PDF" in page
    assert IDENTIFYING["PatientName"] in page  # not anonymised: the patient is named
    assert (out / "README.TXT").is_file()
    assert not list(tmp_path.glob(".*part*"))


def test_zip_and_iso_read_back_by_ownscan(study: Study, tmp_path: Path):
    want = volumes(str(study.root))
    exporter = ShareExporter()
    series = assemble(str(study.root)).series
    (zpath,) = exporter.export_sources(series, tmp_path / "pkg", {"zip": True})
    assert zpath.name == "pkg.zip"
    zi = PortalZipImporter()
    assert zi.claims(str(zpath))
    assert_same_volumes(volumes(zi.iter_items(str(zpath), ImportOptions())), want)
    (ipath,) = exporter.export_sources(series, tmp_path / "disc.iso", {"iso": True})
    listing = run("xorriso", "-indev", ipath, "-find", "/", "-type", "f")
    assert "DICOMDIR" in listing and "INDEX.HTM" in listing
    di = DiscImporter()
    assert di.claims(str(ipath))
    assert_same_volumes(volumes(di.iter_items(str(ipath), ImportOptions())), want)
    with pytest.raises(FileExistsError, match="not overwritten"):
        exporter.export_sources(series, ipath, {"iso": True})
    with pytest.raises(ValueError, match="one of --zip and --iso"):
        exporter.export_sources(series, tmp_path / "x", {"iso": True, "zip": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc.iso", "pkg.zip"]


def test_anonymised_package_names_nobody(study: Study, report: Path, tmp_path: Path, caplog):
    out = tmp_path / "anon"
    series = assemble(str(study.root)).series
    with caplog.at_level(logging.WARNING):
        ShareExporter().export_sources(
            series, out, {"anonymise": True, "date_offset": -400, "report": [report]}
        )
    assert "1 report(s) are left out" in caplog.text
    assert not (out / "REPORTS").exists()
    files = [p for p in out.rglob("*") if p.is_file()]
    for f in files:
        text = dcmdump(f) if f.name not in ("INDEX.HTM", "README.TXT") else f.read_text()
        for kw, value in IDENTIFYING.items():
            assert value not in text, f"{kw} value {value!r} left in {f}"
        assert study.study_uid not in text
    # one patient, one study, both series linked in the DICOMDIR
    dirds = pydicom.dcmread(out / "DICOMDIR")
    kinds = [r.DirectoryRecordType for r in dirds.DirectoryRecordSequence]
    assert kinds.count("PATIENT") == 1 and kinds.count("STUDY") == 1
    assert kinds.count("SERIES") == 2 and kinds.count("IMAGE") == 13
    want = volumes(str(study.root))
    got = volumes(DiscImporter().iter_items(str(out), ImportOptions()))
    assert_same_volumes(got, want)


def test_never_overwrites_a_folder(study: Study, tmp_path: Path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    series = assemble(str(study.root)).series
    with pytest.raises(FileExistsError, match="not overwritten"):
        ShareExporter().export_sources(series, out, {})
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    with pytest.raises(ValueError, match="no such file"):
        ShareExporter().export_sources(series, tmp_path / "new", {"report": [tmp_path / "x"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_reports_kept_in_the_library_go_in(study: Study, tmp_path: Path):
    from ownscan.core.library import open_library
    from ownscan.core.plugin_types import SourceItem
    from ownscan.plugins.folder import FolderImporter

    items = [*FolderImporter().iter_items(str(study.root), ImportOptions())]
    items.append(SourceItem(origin="cd!REPORT.PDF", data=REPORT, media_type="application/pdf"))
    with open_library(tmp_path / "lib") as lib:
        lib.import_items(items)
    series = assemble(str(study.root)).series
    out = tmp_path / "pkg"
    ShareExporter().export_sources(series, out, {"library": str(tmp_path / "lib")})
    assert (out / "REPORTS" / "REPORT01.PDF").read_bytes() == REPORT
    assert "REPORTS/REPORT01.PDF" in (out / "INDEX.HTM").read_text()
    # no library there: no reports, and no error
    ShareExporter().export_sources(series, tmp_path / "pkg2", {"library": str(tmp_path / "no")})
    assert not (tmp_path / "pkg2" / "REPORTS").exists()


def test_a_killed_export_leaves_nothing_under_the_real_name(mr_head_dir: Path, tmp_path: Path):
    """kill -9 while the package is being built: no folder under the asked name; and a killed
    dicom-anon export leaves only complete files under real names."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def start(fmt: str, out: Path) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "ownscan.core.cli", "export", str(mr_head_dir),
               "--format", fmt, "-o", str(out)]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    out = tmp_path / "pkg"
    proc = start("share", out)
    deadline = time.monotonic() + 60
    while not any(tmp_path.glob(".pkg.*.part/**/IM*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert len(list(tmp_path.glob(".pkg.*.part"))) == 1  # the hidden building folder only

    anon = tmp_path / "anon"
    proc = start("dicom-anon", anon)
    while len(list(anon.glob("S001/IM*.dcm"))) < 20 and time.monotonic() < deadline + 60:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(anon.glob("S001/IM*.dcm"))
    assert 20 <= len(done) < 384
    for f in done:
        ds = pydicom.dcmread(f)
        assert len(ds.PixelData) == ds.Rows * ds.Columns * 2  # complete, to the last byte
    assert [p.name for p in (anon / "S001").iterdir() if not p.name.startswith("IM")] == []
