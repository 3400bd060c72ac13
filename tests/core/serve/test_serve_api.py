"""``ownscan serve`` over HTTP: the door, the library, volumes, frames, thumbnails, documents.

One real server (a subprocess on 127.0.0.1, port 0) on a library holding a generated CT, a PDF
report and a Structured Report of the same study; every test talks HTTP to it. The server's
log (its stderr) is checked at the end for patient names, IDs, UIDs and the token.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from library_dicomgen import PDF, encapsulated_pdf
from serve_process import (
    MINI_PDF,
    STATE,
    ServeProcess,
    unshuffle,
    write_ct_series,
    write_report_sr,
)

from ownscan.core.library import open_library

FINDING = "Small left frontal marker, 6 mm; no other finding."
NAMES = ("Phantom", "Generated", "GEN001")  # what ctgen writes as the patient's name and ID


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("ct")
    files = write_ct_series(src / "ct", n_slices=21, rows=72, cols=80, description="chest")
    (src / "ct" / "report.pdf").write_bytes(MINI_PDF)
    write_report_sr(src / "ct" / "sr.dcm", files[0], FINDING)
    study = pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    encapsulated_pdf(src / "ct" / "doc.dcm", study, patient=("Phantom^Generated", "GEN001"))
    lib = tmp_path_factory.mktemp("lib") / "library"
    with open_library(lib) as opened:
        from ownscan.core.plugin_host import get_host
        from ownscan.core.plugin_types import ImportOptions

        items = (
            get_host().find_importer(str(src / "ct")).iter_items(str(src / "ct"), ImportOptions())
        )
        rep = opened.import_items(items)
        assert rep.ok, rep.summary()
    return lib


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(library)
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture(scope="module")
def series_uid(library: Path) -> str:
    with open_library(library) as lib:
        (s,) = [s for s in lib.series() if not s.is_document]
        return s.series_uid


def test_first_line_and_door(server: ServeProcess) -> None:
    assert server.lines[0] == f"ownscan serve: open {server.base}/?token={server.token}"
    anon = server.client(signed_in=False)
    for path in ("/", "/api/library", "/static/index.html", "/api/series/1.2.3", "/nothing"):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert not any(n.lower() in r.text.lower() for n in NAMES), r.text
    assert "ownscan serve" in anon.get("/").text  # it says what to do
    r = anon.get("/?token=" + "x" * 22)
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = anon.get(f"/?token={server.token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"ownscan_session={server.token};")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    assert "Secure" not in cookie  # plain HTTP on loopback
    assert anon.get("/api/library").status_code == 200  # the client keeps the cookie now
    other = server.token[:-1] + ("B" if server.token.endswith("A") else "A")
    wrong = server.client(signed_in=False, cookies={"ownscan_session": other})
    r = wrong.get("/api/library")
    assert r.status_code == 401 and r.json() == {
        "error": "not signed in: open the address printed by ownscan serve"
    }


def test_state_changes_need_the_header(server: ServeProcess) -> None:
    c = server.client()
    spec = {"files": [{"name": "a.dcm", "size": 3, "relative_path": "a.dcm"}]}
    r = c.post("/api/uploads", json=spec)
    assert r.status_code == 403 and "X-Ownscan" in r.json()["error"]
    r = c.post("/api/uploads", json=spec, headers=STATE)
    assert r.status_code == 201
    upload = r.json()["upload_id"]
    assert c.delete(f"/api/uploads/{upload}").status_code == 403
    assert c.delete(f"/api/uploads/{upload}", headers=STATE).json() == {"dropped": True}
    assert c.get(f"/api/uploads/{upload}").status_code == 404


def test_library_lists_the_series_and_documents(server: ServeProcess, library: Path) -> None:
    data = server.client().get("/api/library").json()
    (patient,) = data["patients"]
    assert patient["name"] == "Generated Phantom" and patient["patient_id"] == "GEN001"
    assert patient["birth_date"] == "1970-01-01"
    (study,) = patient["studies"]
    with open_library(library) as lib:
        expected = [s.series_uid for s in lib.series() if not s.is_document]
    assert [s["series_uid"] for s in study["series"]] == expected
    (series,) = study["series"]
    assert series["images"] == 21 and series["modality"] == "CT"
    assert series["description"] == "chest"
    assert series["thumbnail"] == f"/api/series/{expected[0]}/thumbnail.png"
    assert study["modalities"] == ["CT"]
    assert sorted(d["kind"] for d in study["documents"]) == ["dicom-pdf", "pdf", "sr"]


def test_documents(server: ServeProcess) -> None:
    c = server.client()
    (study,) = c.get("/api/library").json()["patients"][0]["studies"]
    docs = {d["kind"]: d for d in study["documents"]}
    r = c.get(docs["pdf"]["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline")
    assert r.content == MINI_PDF
    r = c.get(docs["dicom-pdf"]["url"])  # unwrapped from the DICOM instance
    assert r.headers["content-type"] == "application/pdf" and r.content == PDF
    r = c.get(docs["sr"]["url"])
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<b>Finding:</b> Small left frontal marker, 6 mm; no other finding." in r.text
    assert c.get("/api/documents/" + "0" * 64).status_code == 404
    assert c.get("/api/documents/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_header(server: ServeProcess, library: Path, series_uid: str) -> None:
    h = server.client().get(f"/api/series/{series_uid}").json()
    with open_library(library) as lib:
        v = lib.load_volume(series_uid)
    assert h["shape"] == [21, 72, 80] and h["dtype"] == "int16" and h["components"] == 1
    assert h["encoding"] == "shuffle16" and h["modality"] == "CT" and h["units"] == "HU"
    np.testing.assert_allclose(h["affine"], v.affine)
    np.testing.assert_allclose(h["spacing"], v.spacing)
    assert h["value_range"] == [float(v.voxels.min()), float(v.voxels.max())]
    assert h["is_2d"] is False and h["invert"] is False
    names = {p["name"] for p in h["presets"]}
    assert {"ct-bone", "mr-default", "lung"} <= names  # HU data: HU presets and relative ones
    level0, level1 = h["levels"]
    assert level0["shape"] == [21, 72, 80] and level1["shape"] == [10, 36, 40]  # odd z: 20/2
    # preview voxel (0, 0, 0) is the mean of full voxels 0..1 on each axis: at their centre
    corners = np.array([[i, j, k, 1] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    centre = (np.asarray(level0["affine"]) @ corners.T).T.mean(axis=0)
    np.testing.assert_allclose(np.asarray(level1["affine"]) @ [0, 0, 0, 1], centre)
    assert server.client().get("/api/series/1.2.3.4").status_code == 404


@pytest.mark.parametrize("level", [0, 1])
def test_voxels_decode_exactly(
    server: ServeProcess, library: Path, series_uid: str, level: int
) -> None:
    c = server.client()
    url = f"/api/series/{series_uid}/voxels?level={level}"
    with c.stream("GET", url) as r:
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["x-ownscan-encoding"] == "shuffle16"
        wire = b"".join(r.iter_raw())  # as it travelled: still gzip
    data = gzip.decompress(wire)
    assert int(r.headers["x-ownscan-raw-length"]) == len(data)
    with open_library(library) as lib:
        v = lib.load_volume(series_uid).voxels
    got = unshuffle(data, "int16", "shuffle16")
    if level == 0:
        np.testing.assert_array_equal(got.reshape(v.shape), v)
    else:
        z, y, x = (n // 2 for n in v.shape)
        blocks = v[: 2 * z, : 2 * y, : 2 * x].astype(np.float64)
        blocks = blocks.reshape(z, 2, y, 2, x, 2).mean(axis=(1, 3, 5))
        np.testing.assert_array_equal(got.reshape(z, y, x), np.rint(blocks).astype(np.int16))
    assert len(wire) <= 0.5 * v.nbytes / (8 if level else 1)
    with c.stream("GET", url) as again:  # kept: the second answer has its length
        assert int(again.headers["content-length"]) == len(b"".join(again.iter_raw()))
    assert c.get(f"/api/series/{series_uid}/voxels?level=2").status_code == 404


def test_thumbnail_is_a_real_picture(server: ServeProcess, library: Path, series_uid: str) -> None:
    from PIL import Image

    r = server.client().get(f"/api/series/{series_uid}/thumbnail.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("L"))
    assert img.shape == (128, 128)
    assert img.std() > 20 and (img > 200).any() and (img < 10).any()  # body, spine, air
    assert len(list((library / "serve" / "thumbnails").glob("*.png"))) == 1  # cached
    assert server.client().get(f"/api/series/{series_uid}/thumbnail.png").content == r.content


@pytest.mark.parametrize(
    "query,args",
    [
        (
            "mode=mip&azimuth=30&elevation=15",
            ["--mode", "mip", "--azimuth", "30", "--elevation", "15"],
        ),
        (
            "mode=mpr&plane=sagittal&offset=4&window=400&level=40",
            [
                "--mode",
                "mpr",
                "--plane",
                "sagittal",
                "--offset",
                "4",
                "--window",
                "400",
                "--level",
                "40",
            ],
        ),
        (
            "mode=dvr&preset=ct-bone&zoom=1.5",
            ["--mode", "dvr", "--preset", "ct-bone", "--zoom", "1.5"],
        ),
    ],
    ids=["mip", "mpr", "dvr"],
)
def test_render_matches_ownscan_render(
    server: ServeProcess,
    library: Path,
    series_uid: str,
    tmp_path: Path,
    query: str,
    args: list[str],
) -> None:
    """The server's frame and `ownscan render`'s PNG of the same options: both draw with the
    auto backend (GL through EGL here), so they agree exactly; the bound allows the GL vs
    array difference (3 levels, 0.1% of pixels over 2) for a machine where one falls back."""
    from PIL import Image

    r = server.client().get(f"/api/series/{series_uid}/render.png?{query}&width=160&height=120")
    assert r.status_code == 200, r.text
    served = np.asarray(Image.open(io.BytesIO(r.content)))
    out = tmp_path / "cli.png"
    cmd = [sys.executable, "-m", "ownscan.core.cli", "render", f"library:{series_uid}"]
    cmd += ["--library", str(library), "--size", "160x120", "-o", str(out), *args]
    subprocess.run(cmd, check=True, capture_output=True)
    cli = np.asarray(Image.open(out))
    assert served.shape == cli.shape == (120, 160, 3)
    assert served.std() > 5  # a picture, not a blank frame
    diff = np.abs(served.astype(np.int16) - cli.astype(np.int16)).max(axis=-1)
    assert diff.max() <= 3 and (diff > 2).mean() <= 0.001


def test_bad_parameters(server: ServeProcess, series_uid: str) -> None:
    c = server.client()
    base = f"/api/series/{series_uid}/render.png"
    r = c.get(base + "?mode=nosuchmode")
    assert r.status_code == 400 and "nosuchmode" in r.json()["error"]
    assert c.get(base + "?width=99999").status_code == 400
    assert c.get(base + "?zoom=nan").status_code == 400
    assert c.get(base + "?azimuth=abc").status_code == 400
    r = c.get("/api/shaders/raycast?mode=nosuchmode")
    assert r.status_code == 400 and "dvr" in r.json()["error"]


def test_modes(server: ServeProcess) -> None:
    data = server.client().get("/api/modes").json()
    names = {m["name"] for m in data["modes"]}
    assert {"mpr", "mip", "minip", "xray", "dvr", "iso"} <= names
    assert {t["name"] for t in data["transfer_functions"]} >= {"ct-bone", "mr-default"}


def test_log_names_nobody(server: ServeProcess, series_uid: str) -> None:
    """Runs last in this module: everything above went through the log."""
    log = server.log
    assert "GET /api/series/{uid}/voxels 200" in log
    assert "GET /api/series/{uid}/render.png 200" in log
    for secret in (*NAMES, server.token, series_uid, "Finding"):
        assert secret not in log, secret
