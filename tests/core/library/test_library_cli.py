"""The library's commands run as a user runs them: ownscan import, list, remove, check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from library_dicomgen import PDF, ct_series, with_same_uid_other_bytes
from pydicom.uid import generate_uid

OWNSCAN = [sys.executable, "-m", "ownscan.core.cli"]


def ownscan(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OWNSCAN_LIBRARY"}
    return subprocess.run(
        [*OWNSCAN, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=300,
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    study = generate_uid()
    ct_series(tmp_path / "src" / "ct", 3, study=study)
    ct_series(tmp_path / "src" / "bone", 2, study=study, series_number=4, description="Bone")
    (tmp_path / "src" / "README.TXT").write_text("Viewer on this disc: run setup.exe\n")
    (tmp_path / "src" / "report.pdf").write_bytes(PDF)
    return tmp_path / "src"


def test_import_list_json_check_remove(tmp_path, source):
    lib = tmp_path / "lib"
    r = ownscan("import", source, "--library", lib)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sum(line.startswith("imported ") for line in lines) == 5
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert len(skipped) == 1 and "README.TXT: not a DICOM file" in skipped[0]
    assert any(line.startswith("document ") and "report.pdf" in line for line in lines)
    assert "5 imported, 1 document, 1 skipped" in lines[-1] and "MB/s" in lines[-1]

    again = ownscan("import", source, "--library", lib)
    assert again.returncode == 0
    assert "6 duplicate, 1 skipped" in again.stdout.splitlines()[-1]

    table = ownscan("list", "--library", lib)
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    # grouped by person: a heading, the study by date, its series and documents under it
    assert rows[0].startswith("DATE") and "HOSPITAL" in rows[0] and "REPORT" in rows[0]
    assert rows[1] == "Jane Doe (P1), born 1970-01-01"
    assert rows[2].startswith("2024-01-31") and "CT Thorax" in rows[2] and " yes " in rows[2]
    assert "2: Axial 1mm" in rows[3] and " CT " in rows[3] and not rows[3].startswith("20")
    assert "4: Bone" in rows[4]
    assert "document: report.pdf" in rows[5]

    data = json.loads(ownscan("list", "--json", "--library", lib).stdout)
    (patient,) = data["patients"]
    (study,) = patient["studies"]
    assert [(s["description"], s["images"]) for s in study["series"]] == [
        ("Axial 1mm", 3),
        ("Bone", 2),
    ]
    assert [d["title"] for d in study["documents"]] == ["report.pdf"]

    check = ownscan("check", "--library", lib)
    assert check.returncode == 0 and "consistent" in check.stdout

    bone = study["series"][1]["series_uid"]
    refused = ownscan("remove", "series", bone, "--library", lib, stdin="")
    assert refused.returncode == 1 and "add --yes" in refused.stderr
    removed = ownscan("remove", "series", bone[:40], "--yes", "--library", lib)
    assert removed.returncode == 0, removed.stderr
    assert "removed 1 series, 2 images" in removed.stdout
    data = json.loads(ownscan("list", "--json", "--library", lib).stdout)
    assert len(data["patients"][0]["studies"][0]["series"]) == 1
    gone = ownscan("remove", "patient", "P1", "--yes", "--library", lib)
    assert gone.returncode == 0 and "1 documents" in gone.stdout
    assert "is empty" in ownscan("list", "--library", lib).stdout


def test_import_exit_status_when_something_is_wrong(tmp_path, source):
    lib = tmp_path / "lib"
    assert ownscan("import", source, "--library", lib).returncode == 0
    first = sorted((source / "ct").iterdir())[0]
    with_same_uid_other_bytes(first, tmp_path / "other" / "x.dcm")
    (tmp_path / "other" / "broken.dcm").write_bytes(first.read_bytes()[:300])
    r = ownscan("import", tmp_path / "other", tmp_path / "nowhere", "--library", lib)
    assert r.returncode == 1
    assert "conflict" in r.stdout and "kept aside" in r.stdout
    assert "failed     " in r.stdout and "broken.dcm" in r.stdout
    assert f"no such file or folder: {tmp_path / 'nowhere'}" in r.stdout
    assert "incomplete: 1 file(s) failed; 1 file(s) conflict" in r.stderr
    assert "1 source(s) could not be read" in r.stderr
    listing = ownscan("list", "--library", lib).stdout
    assert "1 conflicting file(s) kept aside" in listing


def test_options_reach_the_importer_and_bad_ones_are_refused(tmp_path, source):
    bad = ownscan("import", source, "--library", tmp_path / "lib", "--option", "novalue")
    assert bad.returncode == 2 and "expected KEY=VALUE" in bad.stderr
    via = ownscan("import", source, "--library", tmp_path / "lib", "--via", "nosuch")
    assert via.returncode == 2 and "unknown importer 'nosuch'; valid: " in via.stderr


def test_missing_library_is_a_clear_error(tmp_path):
    r = ownscan("list", "--library", tmp_path / "none")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"ownscan list: error: {tmp_path / 'none'}: no ownscan library here "
        "(run `ownscan import` first)"
    )


def test_check_finds_and_repairs(tmp_path, source):
    lib = tmp_path / "lib"
    assert ownscan("import", source, "--library", lib).returncode == 0
    objects = sorted(p for p in (lib / "objects").rglob("*") if p.is_file())
    # an orphan (as a kill between rename and commit leaves), a partial temp file, a damaged
    # file, a missing file and a loose permission
    extra = ct_series(tmp_path / "extra", 1, prefix="X")[0]
    import hashlib

    sha = hashlib.sha256(extra.read_bytes()).hexdigest()
    (lib / "objects" / sha[:2]).mkdir(exist_ok=True, mode=0o700)
    orphan = lib / "objects" / sha[:2] / sha
    orphan.write_bytes(extra.read_bytes())
    orphan.chmod(0o600)
    (lib / "tmp" / "abc.123.part").write_bytes(b"half")
    pdf = lib / "objects" / hashlib.sha256(PDF).hexdigest()[:2] / hashlib.sha256(PDF).hexdigest()
    damaged, missing, loose = [p for p in objects if p != pdf][:3]
    damaged.write_bytes(b"\0" * damaged.stat().st_size)
    missing.unlink()
    pdf.unlink()  # a document's file goes missing too
    loose.chmod(0o644)

    r = ownscan("check", "--library", lib)
    assert r.returncode == 1
    out = r.stdout
    # the orphan and the partial file are what an interrupted import leaves: set right and
    # said as information; the damage is a problem
    assert "info      orphan" in out and "adopted (imported)" in out, out
    assert "info      partial" in out and not list((lib / "tmp").iterdir()), out
    assert "PROBLEM   damaged" in out and "PROBLEM   missing" in out, out
    assert "PROBLEM   permissions" in out and "run `ownscan check --repair`" in out

    r = ownscan("check", "--repair", "--library", lib)
    assert r.returncode == 1  # missing and damaged files cannot be made up
    assert "repaired" in r.stdout and "orphan" not in r.stdout
    assert (lib / "damaged" / damaged.name).exists() and not damaged.exists()
    assert (loose.stat().st_mode & 0o777) == 0o600

    # importing the source again restores what was lost; then the library is consistent
    r = ownscan("import", source, "--library", lib)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("missing file restored") == 3
    r = ownscan("check", "--library", lib)
    assert r.returncode == 0, r.stdout
    data = json.loads(ownscan("list", "--json", "--library", lib).stdout)
    series = data["patients"][0]["studies"]
    assert sum(s["images"] for st in series for s in st["series"]) == 6  # 5 + the adopted one


def test_info_and_export_take_a_series_from_the_library(tmp_path):
    import nibabel as nib
    import numpy as np

    ct_series(tmp_path / "src", 4, size=16)
    lib = tmp_path / "lib"
    assert ownscan("import", tmp_path / "src", "--library", lib).returncode == 0
    data = json.loads(ownscan("list", "--json", "--library", lib).stdout)
    uid = data["patients"][0]["studies"][0]["series"][0]["series_uid"]
    info = ownscan("info", f"library:{uid[:30]}", "--library", lib)
    assert info.returncode == 0, info.stderr
    assert "Series 2 Axial 1mm" in info.stdout and "4 image(s)" in info.stdout
    a = ownscan("export", f"library:{uid}", "--library", lib, "-o", tmp_path / "from-lib")
    b = ownscan("export", tmp_path / "src", "-o", tmp_path / "from-src")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    (xa,) = (tmp_path / "from-lib").iterdir()
    (ya,) = (tmp_path / "from-src").iterdir()
    assert xa.name == ya.name
    x, y = nib.load(xa), nib.load(ya)
    assert np.array_equal(x.get_fdata(), y.get_fdata()) and np.allclose(x.affine, y.affine)
    bad = ownscan("info", "library:9.9.9", "--library", lib)
    assert bad.returncode == 2 and "no series '9.9.9' in the library" in bad.stderr


def test_a_lost_or_damaged_index_is_rebuilt_from_the_files(tmp_path, source):
    lib = tmp_path / "lib"
    assert ownscan("import", source, "--library", lib).returncode == 0
    before = json.loads(ownscan("list", "--json", "--library", lib).stdout)["patients"]
    for p in lib.glob("index.sqlite*"):
        p.unlink()
    (lib / "index.sqlite").write_bytes(b"this is not a database" * 100)
    bad = ownscan("list", "--library", lib)
    assert bad.returncode == 2 and "cannot open the library index" in bad.stderr
    (lib / "index.sqlite").rename(lib / "index.sqlite.damaged")
    r = ownscan("check", "--repair", "--library", lib)
    assert r.returncode == 0, r.stdout + r.stderr
    after = json.loads(ownscan("list", "--json", "--library", lib).stdout)["patients"]
    series = lambda pts: sorted(  # noqa: E731
        (s["series_uid"], s["images"], s["size"])
        for p in pts
        for st in p["studies"]
        for s in st["series"]
    )
    assert series(after) == series(before)
    assert ownscan("check", "--library", lib).returncode == 0
