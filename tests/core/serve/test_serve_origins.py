"""The page names a series' files as the user imported them, never by the library's stored
copies (``objects/ab/abcd...``) or the server's staging (``serve/uploads/ID/...``): a series
with a missing slice warns about it, naming the file before the gap; uploaded through the
page (a portal ZIP, a folder), imported with ``ownscan import``, or held from an older server
that recorded the staging path."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_process import ServeProcess, make_ct_zip, write_ct_series
from test_serve_uploads import _announce, _import, _send

from ownscan.core.library import open_library
from ownscan.core.serve._origins import UPLOADED, shown_origin


def _gap_series(folder: Path, **kw: Any) -> list[Path]:
    """A CT with its middle slice missing (the server resamples it, with a warning naming
    the file before the gap); the files kept."""
    files = write_ct_series(folder, n_slices=9, rows=24, cols=20, **kw)
    files[4].unlink()
    return [p for p in files if p.exists()]


def _warnings(c: Any) -> dict[str, list[str]]:
    out = {}
    for patient in c.get("/api/library").json()["patients"]:
        for study in patient["studies"]:
            for s in study["series"]:
                header = c.get(f"/api/series/{s['series_uid']}").json()
                out[s["description"]] = header["warnings"]
    return out


def _no_library_path(text: str, library: Path) -> None:
    assert str(library) not in text, text
    for internal in ("objects/", "serve/uploads", "imported from", "/loose/", "/files/f0"):
        assert internal not in text, text


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServeProcess, Path]]:
    lib = tmp_path / "library"
    open_library(lib).close()
    s = ServeProcess.start(lib)
    yield s, lib
    assert s.stop() == 0, s.log


def test_uploads_are_named_as_the_browser_named_them(
    server: tuple[ServeProcess, Path], tmp_path: Path
) -> None:
    s, lib = server
    zipped = _gap_series(tmp_path / "portal" / "CT", description="zipped", seed=1)
    make_ct_zip(tmp_path / "portal", tmp_path / "my scans.zip")
    loose = _gap_series(tmp_path / "disc" / "DICOM", description="folder", seed=2)
    c = s.client()
    files = [("my scans.zip", (tmp_path / "my scans.zip").read_bytes())]
    files += [(f"disc/DICOM/{p.name}", p.read_bytes()) for p in loose]
    upload = _announce(c, files)
    for n, (_, data) in enumerate(files):
        _send(c, upload, n, data)
    job = _import(c, upload)
    assert job["summary"] == f"{len(zipped) + len(loose)} imported", job
    warnings = _warnings(c)
    # the file before the gap, by the name it had on the user's side
    (zw,) = warnings["zipped"]
    assert f"after my scans.zip!CT/{zipped[3].name})" in zw, zw
    (fw,) = warnings["folder"]
    assert f"after disc/DICOM/{loose[3].name})" in fw, fw
    for text in (zw, fw):
        assert text.startswith("missing slices:")
        _no_library_path(text, lib)
    # the library itself records those names (its other readers, `ownscan info`, see them)
    with sqlite3.connect(lib / "index.sqlite") as db:
        origins = {r[0] for r in db.execute("SELECT origin FROM instances")}
    assert origins == {f"my scans.zip!CT/{p.name}" for p in zipped} | {
        f"disc/DICOM/{p.name}" for p in loose
    }


def test_imported_files_keep_the_users_path_and_old_uploads_say_uploaded(
    tmp_path: Path,
) -> None:
    src = tmp_path / "cd" / "DICOM"
    kept = _gap_series(src, description="from a CD")
    lib = tmp_path / "library"
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(tmp_path / "cd"), "--library", str(lib)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    s = ServeProcess.start(lib)
    try:
        c = s.client()
        (w,) = _warnings(c)["from a CD"]
        assert f"after {kept[3]})" in w, w  # the path the user gave, whole
        _no_library_path(w.replace(str(kept[3]), ""), lib)
    finally:
        assert s.stop() == 0, s.log
    # a library from an older server: the staging path of an upload was recorded
    with sqlite3.connect(lib / "index.sqlite") as db:
        rows = db.execute("SELECT sop_instance_uid, origin FROM instances").fetchall()
        for n, (sop, origin) in enumerate(rows):
            staged = lib / "serve" / "uploads" / ("0123456789abcdef" * 2) / "files"
            old = (
                f"{staged}/f000000.zip!export/{Path(origin).name}"
                if n % 2
                else f"{staged}/f{n:06d}"
            )
            db.execute("UPDATE instances SET origin = ? WHERE sop_instance_uid = ?", (old, sop))
    s = ServeProcess.start(lib)
    try:
        c = s.client()
        (w,) = _warnings(c)["from a CD"]
        _no_library_path(w, lib)
        assert f"after {UPLOADED}" in w, w
        body = json.dumps(c.get("/api/library").json())
        _no_library_path(body, lib)
    finally:
        assert s.stop() == 0, s.log


def test_shown_origin(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    stored = f"{lib}/objects/ab/{'ab' * 32}"
    assert shown_origin("/home/me/cd/IM1", lib) == "/home/me/cd/IM1"
    assert shown_origin("scans.zip!DICOM/IM1", lib) == "scans.zip!DICOM/IM1"
    assert shown_origin(f"{stored} (imported from /media/cd/IM1)", lib) == "/media/cd/IM1"
    staged = f"{lib}/serve/uploads/{'f' * 32}"
    assert shown_origin(f"{staged}/files/f000002.zip!A/IM1", lib) == f"{UPLOADED}!A/IM1"
    assert shown_origin(f"{staged}/loose/f000007.dcm", lib) == UPLOADED
    assert shown_origin(f"{lib}/tmp/x/IM9", lib) == "IM9"  # nothing of the library's folders
    assert shown_origin("https://pacs.example/studies/1", lib) == "https://pacs.example/studies/1"


def test_a_stored_file_that_cannot_be_read_is_said_by_its_name(tmp_path: Path) -> None:
    """A stored copy damaged after the import (a disk fault): the series is shown without it,
    and the page says which of the user's files was left out and why, not only a gap."""
    src = tmp_path / "cd"
    files = write_ct_series(src, n_slices=9, rows=24, cols=20, description="damaged")
    lib = tmp_path / "library"
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(lib)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    with open_library(lib) as opened:
        (series,) = opened.series()
        (inst,) = [i for i in opened.instances(series.series_uid) if i.origin == str(files[4])]
    stored = Path(inst.path)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-400])  # into its pixels
    s = ServeProcess.start(lib)
    try:
        c = s.client()
        warnings = _warnings(c)["damaged"]
        left_out = [w for w in warnings if w.startswith("left out, could not be read: ")]
        assert len(left_out) == 1 and str(files[4]) in left_out[0], warnings
        for w in warnings:
            _no_library_path(w.replace(str(files[4]), "").replace(str(files[3]), ""), lib)
    finally:
        assert s.stop() == 0, s.log
