"""Uploads through ``ownscan serve``: chunked, resumed after a cut connection, imported by the
importers; bad uploads refused with a reason and nothing in the library; abandoned uploads
leave nothing behind."""

from __future__ import annotations

import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_process import MINI_PDF, STATE, ServeProcess, make_ct_zip, write_ct_series

from ownscan.core.library import open_library

CHUNK = 32 << 10


def _library_files(library: Path) -> list[Path]:
    return [p for p in (library / "objects").rglob("*") if p.is_file()]


def _staged(library: Path) -> list[Path]:
    """What is staged (the folder itself goes when the server stops)."""
    folder = library / "serve" / "uploads"
    return list(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def empty_library(tmp_path: Path) -> Path:
    lib = tmp_path / "library"
    open_library(lib).close()
    return lib


@pytest.fixture
def server(empty_library: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(empty_library)
    yield s
    assert s.stop() == 0, s.log


def _announce(c: Any, files: list[tuple[str, bytes]]) -> str:
    spec = [{"name": n.rsplit("/", 1)[-1], "size": len(b), "relative_path": n} for n, b in files]
    r = c.post("/api/uploads", json={"files": spec}, headers=STATE)
    assert r.status_code == 201, r.text
    return str(r.json()["upload_id"])


def _send(c: Any, upload: str, n: int, data: bytes, start: int = 0) -> None:
    for offset in range(start, len(data), CHUNK):
        r = c.put(
            f"/api/uploads/{upload}/files/{n}?offset={offset}",
            content=data[offset : offset + CHUNK],
            headers=STATE,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"received": min(len(data), offset + CHUNK)}


def _import(c: Any, upload: str, **body: str) -> dict[str, Any]:
    r = c.post(f"/api/uploads/{upload}/import", json=body, headers=STATE)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
    while time.monotonic() < deadline:
        state: dict[str, Any] = c.get(f"/api/jobs/{job}").json()
        if state["state"] != "running":
            return state
        time.sleep(0.1)
    raise AssertionError("the import job did not end")


def _cut_put(server: ServeProcess, path: str, body: bytes) -> None:
    """A PUT whose connection drops half-way through the body."""
    host, port = server.base.split("://")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Cookie: ownscan_session={server.token}\r\nX-Ownscan: 1\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body[: len(body) // 2])


def test_portal_zip_upload_resumes_and_imports(
    server: ServeProcess, empty_library: Path, tmp_path: Path
) -> None:
    src = tmp_path / "export" / "Patient" / "CT"
    files = write_ct_series(src, n_slices=21, rows=72, cols=80, description="uploaded")
    (src.parent / "report.pdf").write_bytes(MINI_PDF)
    zip_path = tmp_path / "portal download.zip"
    make_ct_zip(tmp_path / "export", zip_path)
    data = zip_path.read_bytes()
    assert len(data) > 4 * CHUNK
    c = server.client()
    upload = _announce(c, [("portal download.zip", data)])
    _send(c, upload, 0, data[: 2 * CHUNK])
    _cut_put(
        server, f"/api/uploads/{upload}/files/0?offset={2 * CHUNK}", data[2 * CHUNK : 3 * CHUNK]
    )
    # the half chunk was never written: resume from what the server says it has
    (f,) = c.get(f"/api/uploads/{upload}").json()["files"]
    assert f["received"] == 2 * CHUNK and f["size"] == len(data)
    assert f["name"] == "portal download.zip"
    r = c.put(f"/api/uploads/{upload}/files/0?offset={CHUNK}", content=b"x", headers=STATE)
    assert r.status_code == 409 and f"{2 * CHUNK} bytes received" in r.json()["error"]
    assert c.post(f"/api/uploads/{upload}/import", headers=STATE).status_code == 409  # not all
    _send(c, upload, 0, data, start=2 * CHUNK)
    r = c.put(f"/api/uploads/{upload}/files/0?offset={len(data)}", content=b"x", headers=STATE)
    assert r.status_code == 413  # past the announced size
    job = _import(c, upload)
    assert job["state"] == "done", job
    statuses = {r["name"]: r["status"] for r in job["results"]}
    for p in files:
        assert statuses[f"portal download.zip!Patient/CT/{p.name}"] == "imported"
    assert statuses["portal download.zip!Patient/report.pdf"] == "document"
    assert job["summary"] == "21 imported, 1 document"
    assert job["progress"][0] == job["progress"][1] == len(job["results"])
    series = c.get("/api/library").json()["patients"][0]["studies"][0]["series"]
    assert [(s["description"], s["images"]) for s in series] == [("uploaded", 21)]
    assert _staged(empty_library) == []  # the staged zip is gone
    # the same upload again: every file is a duplicate
    upload = _announce(c, [("again.zip", data)])
    _send(c, upload, 0, data)
    assert _import(c, upload)["summary"] == "22 duplicate"  # the PDF too


def test_folder_upload(server: ServeProcess, empty_library: Path, tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", n_slices=4, rows=32, cols=32)
    upload_files = [(f"CD/DICOM/{p.name}", p.read_bytes()) for p in files]
    upload_files.append(("CD/README.TXT", b"Insert the disc and run viewer.exe"))
    c = server.client()
    upload = _announce(c, upload_files)
    for n, (_name, data) in enumerate(upload_files):
        _send(c, upload, n, data)
    job = _import(c, upload)
    got = {r["name"]: (r["status"], r["reason"]) for r in job["results"]}
    assert {got[f"CD/DICOM/{p.name}"][0] for p in files} == {"imported"}
    status, reason = got["CD/README.TXT"]
    assert status == "skipped" and "not a DICOM file" in reason and "serve/uploads" not in reason
    with open_library(empty_library) as lib:
        assert [s.images for s in lib.series()] == [4]


def _zip(path: Path, members: dict[str, bytes], level: int = 6) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.read_bytes()


def test_bad_uploads_leave_nothing(
    server: ServeProcess, empty_library: Path, tmp_path: Path
) -> None:
    (dicom,) = write_ct_series(tmp_path / "one", n_slices=1, rows=16, cols=16)
    slip = _zip(tmp_path / "slip.zip", {"../../evil.dcm": dicom.read_bytes()})
    bomb = _zip(tmp_path / "bomb.zip", {"scan.dcm": bytes(32 << 20)}, level=9)
    assert len(bomb) < 100_000
    bad = [("notes.txt", b"not a scan\n"), ("slip.zip", slip), ("bomb.zip", bomb)]
    c = server.client()
    upload = _announce(c, bad)
    for n, (_name, data) in enumerate(bad):
        _send(c, upload, n, data)
    job = _import(c, upload)
    assert job["state"] == "done"
    got = {r["name"]: (r["status"], r["reason"]) for r in job["results"]}
    assert got["notes.txt"] == ("skipped", "not a DICOM file")
    status, reason = got["slip.zip!../../evil.dcm"]
    assert status == "refused" and "escape" in reason
    status, reason = got["bomb.zip!scan.dcm"]
    assert status == "refused" and "zip bomb" in reason
    assert _library_files(empty_library) == []
    with open_library(empty_library) as lib:
        assert lib.series() == [] and lib.patients() == []
    assert c.get("/api/library").json() == {"patients": [], "documents": []}
    assert _staged(empty_library) == []


def test_caps_and_abandoned_uploads(empty_library: Path) -> None:
    s = ServeProcess.start(empty_library)
    c = s.client()
    r = c.post(
        "/api/uploads",
        json={"files": [{"name": "huge.iso", "size": 10**12, "relative_path": "huge.iso"}]},
        headers=STATE,
    )
    assert r.status_code == 413 and "at most" in r.json()["error"]
    r = c.post("/api/uploads", json={"files": [{"name": "x"}]}, headers=STATE)
    assert r.status_code == 400 and "size in bytes" in r.json()["error"]
    upload = _announce(c, [("half.zip", bytes(3 * CHUNK))])
    _send(c, upload, 0, bytes(CHUNK))
    (folder,) = _staged(empty_library)
    (staged,) = (folder / "files").iterdir()
    assert staged.name == "f000000.zip"  # the server's name, the client's extension
    assert staged.stat().st_size == CHUNK and staged.stat().st_mode & 0o777 == 0o600
    assert s.stop() == 0  # Ctrl-C with a half-finished upload
    assert _staged(empty_library) == [] and _library_files(empty_library) == []


def test_ctrl_c_during_an_import(empty_library: Path, tmp_path: Path) -> None:
    """Ctrl-C while an upload is imported: the import finishes (or, when it had not started,
    never happens); either way the library is consistent and holds no half import."""
    import subprocess
    import sys

    files = write_ct_series(tmp_path / "ct", n_slices=60, rows=96, cols=96)
    zip_path = tmp_path / "ct.zip"
    make_ct_zip(tmp_path / "ct", zip_path)
    data = zip_path.read_bytes()
    s = ServeProcess.start(empty_library)
    c = s.client()
    upload = _announce(c, [("ct.zip", data)])
    _send(c, upload, 0, data)
    assert c.post(f"/api/uploads/{upload}/import", headers=STATE).status_code == 202
    assert s.stop() == 0, s.log
    check = subprocess.run(
        [sys.executable, "-m", "ownscan.core.cli", "check", "--library", str(empty_library)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with open_library(empty_library) as lib:
        assert [s.images for s in lib.series()] in ([], [len(files)])
    assert _staged(empty_library) == []


def test_disc_image_upload(server: ServeProcess, empty_library: Path, tmp_path: Path) -> None:
    """An .iso (genisoimage, as a hospital CD) goes to the disc importer."""
    import shutil
    import subprocess

    files = write_ct_series(tmp_path / "cd" / "DICOM", n_slices=5, rows=32, cols=32)
    exe = shutil.which("genisoimage")
    assert exe is not None, "genisoimage is not installed (CI installs it)"
    iso = tmp_path / "patient cd.iso"
    subprocess.run([exe, "-quiet", "-J", "-R", "-o", str(iso), str(tmp_path / "cd")], check=True)
    data = iso.read_bytes()
    c = server.client()
    upload = _announce(c, [("patient cd.iso", data)])
    _send(c, upload, 0, data)
    job = _import(c, upload)
    assert job["summary"] == f"{len(files)} imported", job
    assert all(r["name"].startswith("patient cd.iso") for r in job["results"])
    with open_library(empty_library) as lib:
        assert [s.images for s in lib.series()] == [len(files)]


def test_encrypted_zip_needs_its_password(
    server: ServeProcess, empty_library: Path, tmp_path: Path
) -> None:
    import shutil
    import subprocess

    files = write_ct_series(tmp_path / "src" / "DICOM", n_slices=3, rows=32, cols=32)
    exe = shutil.which("zip")
    assert exe is not None, "Info-ZIP zip is not installed (CI installs it)"
    zip_path = tmp_path / "locked.zip"
    subprocess.run(
        [exe, "-q", "-r", "-P", "s3cret", str(zip_path), "DICOM"], cwd=tmp_path / "src", check=True
    )
    data = zip_path.read_bytes()
    c = server.client()
    upload = _announce(c, [("locked.zip", data)])
    _send(c, upload, 0, data)
    job = _import(c, upload)  # no password: refused, and the server asked nobody
    (result,) = job["results"]
    assert result["status"] == "refused" and result["name"] == "locked.zip"
    assert (
        "encrypted" in result["reason"] and "give its password with the import" in result["reason"]
    )
    upload = _announce(c, [("locked.zip", data)])
    _send(c, upload, 0, data)
    job = _import(c, upload, password="s3cret")
    assert job["summary"] == f"{len(files)} imported", job


def test_volume_and_thumbnail_follow_the_series(
    server: ServeProcess, empty_library: Path, tmp_path: Path
) -> None:
    """Images added to a series by a later upload give it a new volume and a new thumbnail
    (the old one goes): nothing made before hides them."""
    from pydicom.uid import generate_uid

    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    common = {"rows": 32, "cols": 32, "study_uid": study, "series_uid": series, "frame_uid": frame}
    first = write_ct_series(tmp_path / "a", positions=[0, 2.5, 5, 7.5], **common)
    more = write_ct_series(tmp_path / "b", positions=[10, 12.5], prefix="B", **common)
    c = server.client()
    thumbs = empty_library / "serve" / "thumbnails"
    for batch in (first, more):
        upload = _announce(c, [(p.name, p.read_bytes()) for p in batch])
        for n, p in enumerate(batch):
            _send(c, upload, n, p.read_bytes())
        assert _import(c, upload)["summary"] == f"{len(batch)} imported"
        r = c.get(f"/api/series/{series}/thumbnail.png")
        assert r.status_code == 200
        (kept,) = thumbs.glob("*.png")
        assert kept.read_bytes() == r.content
        if batch is first:
            old = kept
        header = c.get(f"/api/series/{series}").json()
        assert header["shape"][0] == (4 if batch is first else 6)
    assert kept != old and not old.exists()
