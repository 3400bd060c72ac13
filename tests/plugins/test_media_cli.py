"""Discs and portal zips end to end, as a user runs them: ownscan info, import, list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from media_data import (  # noqa: F401 (fixtures)
    FAKE_EXE,
    JPEG_PREVIEW,
    MINI_PDF,
    Disc,
    disc_images_fixture,
    pdi_disc_fixture,
    run_tool,
)


def ownscan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OWNSCAN_LIBRARY"}
    return subprocess.run(
        [sys.executable, "-m", "ownscan.core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


def _lines(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{status} ")]


def test_info_on_an_iso_image(disc_images: dict[str, Path]):
    r = ownscan("info", disc_images["iso9660"])
    assert r.returncode == 0, r.stderr
    assert "Patient Jane_Doe (ID 02" in r.stdout
    assert "Series 401 anat-T1w: MR volume 274x384x4" in r.stdout
    assert "Series 402 anat-T1w: MR volume 274x384x3" in r.stdout


def test_import_disc_image_then_list(tmp_path: Path, pdi_disc: Disc, disc_images):
    lib = tmp_path / "lib"
    r = ownscan("import", disc_images["rockridge"], "--library", lib)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(_lines(r.stdout, "imported")) == len(pdi_disc.images)  # the images and the PDF
    docs = _lines(r.stdout, "document")
    assert len(docs) == 1 and "REPORT.PDF: stored (application/pdf)" in docs[0]
    assert not _lines(r.stdout, "skipped") and not _lines(r.stdout, "failed")

    listed = ownscan("list", "--library", lib, "--json")
    assert listed.returncode == 0, listed.stderr
    (patient,) = json.loads(listed.stdout)["patients"]
    (study,) = patient["studies"]
    # The PDF beside the images and the DICOM Encapsulated PDF both stay with the study.
    assert {(d["kind"], d["title"]) for d in study["documents"]} == {
        ("pdf", "REPORT.PDF"),
        ("dicom-pdf", "Radiology report"),
    }
    assert sorted(s["images"] for s in study["series"] if not s["is_document"]) == [3, 4]
    table = ownscan("list", "--library", lib).stdout
    assert "document: REPORT.PDF" in table and "401: anat-T1w" in table

    # The same disc again (as a folder): the library holds every instance, the disc importer
    # does not even read them (known_instance), and the import is still a success.
    again = ownscan("import", pdi_disc.root, "--library", lib)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not _lines(again.stdout, "imported")


def test_import_portal_zip_reports_each_file(tmp_path: Path, pdi_disc: Disc):
    dicom = [pdi_disc.images[k] for k in sorted(pdi_disc.images)]
    path = tmp_path / "download.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Export/IM1.dcm", dicom[0])
        zf.writestr("Export/IM2", dicom[1])
        zf.writestr("Export/Befund.pdf", MINI_PDF)
        zf.writestr("Export/preview.jpg", JPEG_PREVIEW)
        zf.writestr("Viewer/viewer.exe", FAKE_EXE)
        zf.writestr("__MACOSX/Export/._IM1.dcm", b"\x00\x05\x16\x07")
        zf.writestr("../../escape.dcm", dicom[2])
    lib = tmp_path / "lib"
    r = ownscan("import", path, "--library", lib)
    assert r.returncode == 1  # an entry was refused: not everything found was imported
    assert len(_lines(r.stdout, "imported")) == 2
    assert len(_lines(r.stdout, "document")) == 1
    skipped = _lines(r.stdout, "skipped")
    assert len(skipped) == 2 and any("preview.jpg" in s for s in skipped)
    failed = _lines(r.stdout, "failed")
    assert failed == [f"failed     {path}!../../escape.dcm: refused: path climbs out with '..' "
                      "would escape the archive"]  # fmt: skip
    assert "incomplete: 1 file(s) failed" in r.stderr
    assert not (tmp_path / "escape.dcm").exists() and not (tmp_path.parent / "escape.dcm").exists()


def test_import_encrypted_zip_with_password(tmp_path: Path, pdi_disc: Disc):
    src = tmp_path / "src"
    (src / "DICOM").mkdir(parents=True)
    for i, key in enumerate(sorted(pdi_disc.images)[:2]):
        (src / "DICOM" / f"IM{i}").write_bytes(pdi_disc.images[key])
    path = tmp_path / "secure.zip"
    run_tool("zip", "-q", "-r", "-P", "s3cret", path, "DICOM", cwd=src)
    lib = tmp_path / "lib"
    r = ownscan("import", path, "--library", lib)
    assert r.returncode == 1
    assert "the zip is encrypted" in r.stdout and "--password" in r.stdout
    ok = ownscan("import", path, "--library", lib, "--password", "s3cret")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(_lines(ok.stdout, "imported")) == 2


def test_password_is_asked_for_on_a_terminal(tmp_path: Path, pdi_disc: Disc):
    """On a terminal (a real pseudo-terminal here) the password is prompted for, not echoed."""
    import pty
    import select

    src = tmp_path / "src"
    (src / "DICOM").mkdir(parents=True)
    for i, key in enumerate(sorted(pdi_disc.images)[:2]):
        (src / "DICOM" / f"IM{i}").write_bytes(pdi_disc.images[key])
    path = tmp_path / "secure.zip"
    run_tool("zip", "-q", "-r", "-P", "s3cret", path, "DICOM", cwd=src)
    argv = [sys.executable, "-m", "ownscan.core.cli", "import", str(path), "--library"]
    argv.append(str(tmp_path / "lib"))
    env = {k: v for k, v in os.environ.items() if k != "OWNSCAN_LIBRARY"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session whose controlling terminal is the pty
        os.execve(sys.executable, argv, env)
    out = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 120)
            assert ready, f"no output from ownscan import on a terminal: {out!r}"
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"Password for" in out:
                os.write(fd, b"s3cret\n")
                answered = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode("utf-8", "replace")
    assert answered, text
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "2 imported" in text and "s3cret" not in text
