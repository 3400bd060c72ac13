"""One pick of many kinds on a phone: a portal ZIP holding a series, a zip-slip entry and a
readme; a CD's .iso; a text file; a truncated DICOM file; a zip bomb. The page says what was
added and that some files were not (in orange, not only in the list), and every file's outcome
in the user's own words: the names as picked (``portal export.zip!Patient/CT/IM00000.dcm``),
each reason once ("refused (refused: ...)" said it twice), no command-line options the page
cannot give. The library holds exactly the good files, recorded under those names; the series
are then drawn."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import sign_in
from serve_process import ServeProcess, write_ct_series
from test_browser_upload import staged, upload

from ownscan.core.library import open_library


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServeProcess, Path]]:
    lib = tmp_path / "library"
    open_library(lib).close()
    s = ServeProcess.start(lib)
    yield s, lib
    assert s.stop() == 0, s.log


def _files(t: Path) -> list[Path]:
    ct = write_ct_series(t / "zsrc", n_slices=6, rows=24, cols=24, description="zipped CT")
    portal = t / "portal export.zip"
    with zipfile.ZipFile(portal, "w") as z:
        for p in ct:
            z.write(p, f"Patient/CT/{p.name}")
        z.write(ct[0], "../../escaped.dcm")
        z.writestr("Patient/readme.txt", "Open index.html")
    write_ct_series(t / "cd" / "DICOM", n_slices=4, rows=24, cols=24, description="disc CT")
    iso = t / "patient cd.iso"
    exe = shutil.which("genisoimage")
    assert exe is not None, "genisoimage is not installed (CI installs it)"
    subprocess.run([exe, "-quiet", "-J", "-R", "-o", str(iso), str(t / "cd")], check=True)
    (t / "notes.txt").write_text("not a scan\n")
    data = ct[1].read_bytes()
    (t / "broken.dcm").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(t / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.dcm", bytes(32 << 20))
    return [portal, iso, t / "notes.txt", t / "broken.dcm", t / "bomb.zip"]


def test_a_mixed_pick_on_a_phone(
    server: tuple[ServeProcess, Path], phone: Any, tmp_path: Path
) -> None:
    s, lib = server
    page = phone
    sign_in(page, s)
    message, outcomes = upload(page, ".files-input", [str(p) for p in _files(tmp_path)])
    assert message == "Added 10 file(s); 5 not added (why: in the list below).", message
    classes = page.locator(".upload-message").get_attribute("class") or ""
    assert "partly" in classes.split(), classes
    got = dict(o.split(": ", 1) for o in outcomes)
    for n in range(6):
        assert got[f"portal export.zip!Patient/CT/IM{n:05d}.dcm"] == "imported"
    for n in range(4):
        assert got[f"patient cd.iso!DICOM/IM{n:05d}.dcm"] == "imported"
    assert got["portal export.zip!../../escaped.dcm"].startswith("refused (path climbs out")
    assert got["portal export.zip!Patient/readme.txt"] == "skipped (not a DICOM file)"
    assert got["notes.txt"] == "skipped (not a DICOM file)"
    assert got["broken.dcm"].startswith("failed (truncated DICOM file")
    bomb = got["bomb.zip!big.dcm"]
    assert bomb.startswith("refused (compressed ") and "zip bomb" in bomb, bomb
    assert "-o " not in bomb and "raises it" not in bomb, bomb
    assert len(got) == len(outcomes) == 15
    # the library: the ten good files, under the names the user knows them by
    with sqlite3.connect(lib / "index.sqlite") as db:
        origins = sorted(r[0] for r in db.execute("SELECT origin FROM instances"))
    assert origins == sorted(k for k, v in got.items() if v == "imported")
    assert staged(lib) == []
    # both series are listed and drawn on the phone
    page.wait_for_selector(".series >> text=disc CT")
    for name in ("zipped CT", "disc CT"):
        page.locator(".series", has_text=name).click()
        page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
        page.go_back()
        page.wait_for_selector(".series >> text=disc CT")
