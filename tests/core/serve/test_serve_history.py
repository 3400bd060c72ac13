"""``ownscan serve`` over HTTP: 4D volumes, the multi-frame cine, persons and their timelines,
and what the radiologist marked (pagegen.py's library: a marked CT at St Anne, the same woman's
diffusion series at City Hospital, a hostile patient's ultrasound clips)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pagegen import DISPLAY_POINT, DISPLAYED_AREA, HOSTILE_DESCRIPTION, make_sources
from serve_process import STATE, ServeProcess, unshuffle

from ownscan.core import assemble
from ownscan.core.library import open_library


@pytest.fixture(scope="module")
def history_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    src = make_sources(root)
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(root / "library")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return root / "library"


@pytest.fixture(scope="module")
def server(history_library: Path) -> Iterator[ServeProcess]:
    s = ServeProcess.start(history_library)
    yield s
    assert s.stop() == 0, s.log


def _series(client: Any) -> dict[str, dict[str, Any]]:
    """Series of the library by modality + description's first word."""
    out = {}
    for p in client.get("/api/library").json()["patients"]:
        for st in p["studies"]:
            for se in st["series"]:
                out[f"{se['modality']} {se['description'].split()[0]}"] = se
    return out


def test_a_4d_series_serves_each_volume_with_its_meaning(server, history_library):
    c = server.client()
    dwi = _series(c)["MR DWI"]["series_uid"]
    with open_library(history_library) as lib:
        series = assemble(lib.series_items(dwi)).series[0]
    head = c.get(f"/api/series/{dwi}").json()
    assert head["n_volumes"] == 5 and head["volume"] == 0
    assert head["dimension"]["name"] == "diffusion"
    assert head["dimension"]["b_values"] == [0.0, 1000.0, 0.0, 1000.0, 1000.0]
    for n in (0, 3):
        h = c.get(f"/api/series/{dwi}", params={"volume": n}).json()
        assert h["volume"] == n
        level = h["levels"][0]
        assert level["url"].endswith(f"volume={n}") or n == 0
        r = c.get(level["url"])
        got = unshuffle(r.content, h["dtype"], r.headers["x-ownscan-encoding"])
        want = series.load(volume=n).voxels
        assert np.array_equal(got.reshape(want.shape), want)
        assert h["value_range"] == [float(want.min()), float(want.max())]
    # the server's frame of volume 3 is volume 3's picture (values 3100..3290), not volume 0's
    # (100..290): one window, one white picture and one grey
    means = []
    for n in (0, 3):
        params = {"mode": "mpr", "volume": n, "window": 400, "level": 200, "width": 64}
        png = c.get(f"/api/series/{dwi}/render.png", params={**params, "height": 64}).content
        from PIL import Image

        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("L"), float)
        means.append(rgb[rgb > 0].mean())
    assert means[0] < 200 and means[1] == 255
    r = c.get(f"/api/series/{dwi}", params={"volume": 5})
    assert r.status_code == 404 and "0..4" in r.json()["error"]


def test_a_multi_frame_clip_is_frames_with_its_rate(server):
    c = server.client()
    found = [
        se
        for p in c.get("/api/library").json()["patients"]
        for st in p["studies"]
        for se in st["series"]
        if se["modality"] == "US"
    ]
    grey = next(se for se in found if not se["description"].endswith("colour"))
    h = c.get(f"/api/series/{grey['series_uid']}").json()
    assert h["kind"] == "frames" and h["n_volumes"] == 1
    assert h["cine"] == {"frames": 6, "fps": 10.0}  # Frame Time 100 ms
    assert h["shape"][0] == 6 and h["components"] == 1
    assert h["orientation_known"] is False and h["spacing_known"] is False
    colour = next(se for se in found if se["description"].endswith("colour"))
    h = c.get(f"/api/series/{colour['series_uid']}").json()
    assert h["cine"] == {"frames": 4, "fps": 10.0} and h["components"] == 3
    # text from the files comes back as it is (the page escapes it, test_browser_history)
    assert HOSTILE_DESCRIPTION in colour["description"]


def test_persons_timeline_and_a_merge_that_splits_back(server, history_library):
    c = server.client()
    data = c.get("/api/persons").json()
    janes = [p for p in data["persons"] if p["name"].lower() == "jane doe"]
    assert len(janes) == 2 and not any(p["linked"] for p in janes)
    (prop,) = data["proposals"]
    assert "same name" in prop["reason"]
    # a state change needs the custom header
    assert (
        c.post("/api/persons/merge", json={"patient_keys": prop["patient_keys"]}).status_code == 403
    )
    r = c.post("/api/persons/merge", json={"patient_keys": prop["patient_keys"]}, headers=STATE)
    assert r.status_code == 200, r.text
    (jane,) = [p for p in r.json()["persons"] if p["linked"]]
    assert sorted(p["patient_id"] for p in jane["patients"]) == ["H2-77", "P1"]
    assert [(t["date"], t["institutions"], t["modalities"]) for t in jane["timeline"]] == [
        ("2023-03-10", ["St Anne"], ["CT"]),
        ("2024-04-02", ["City Hospital"], ["MR"]),
    ]
    ct = jane["timeline"][0]
    assert ct["body_parts"] == ["CHEST"] and ct["reports"] == 2 and ct["marked"] == 2
    assert r.json()["proposals"] == []
    # no stored file changed: split it again and the two are as before
    key = jane["patients"][0]["key"]
    r = c.post("/api/persons/split", json={"patient_key": key}, headers=STATE)
    assert r.status_code == 200, r.text
    assert len([p for p in r.json()["persons"] if p["name"].lower() == "jane doe"]) == 2
    bad = c.post("/api/persons/merge", json={"patient_keys": ["1", 2]}, headers=STATE)
    assert bad.status_code == 400 and "patient keys" in bad.json()["error"]
    assert c.post("/api/persons/fuse", json={}, headers=STATE).status_code == 400


def _pixel_lps(path: str, col: float, row: float) -> np.ndarray:
    """DICOM pixel coordinates (corner-based) of an image -> LPS, from its own header."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    ipp = np.asarray(ds.ImagePositionPatient, float)
    x, y = (
        np.asarray(ds.ImageOrientationPatient[:3], float),
        np.asarray(ds.ImageOrientationPatient[3:], float),
    )
    dr, dc = (float(v) for v in ds.PixelSpacing)
    return ipp + (col - 0.5) * dc * x + (row - 0.5) * dr * y


def test_marks_reports_and_glossary_of_a_series(server, history_library):
    c = server.client()
    ct = _series(c)["CT Axial"]["series_uid"]
    assert "PR Presentation" not in _series(c)  # a presentation state is no image card
    m = c.get(f"/api/series/{ct}/marks").json()
    assert m["problems"] == []
    with open_library(history_library) as lib:
        paths = {i.sop_instance_uid: i.path for i in lib.instances(ct)}
    order = list(paths)
    # key images: images 1 and 3, each placed at its image's centre (64 x 64 pixels)
    (k,) = m["key_images"]
    assert k["title"] == "Of Interest" and "image 3" in k["description"]
    assert [i["number"] for i in k["images"]] == [1, 3]
    for im in k["images"]:
        want = _pixel_lps(paths[im["sop_instance_uid"]], 32.0, 32.0)
        assert np.allclose(im["lps"], want, atol=1e-3)
    assert m["windows"] == [{"center": -600.0, "width": 1500.0, "explanation": "LUNG"}]
    # the SR's outline of the nodule on image 2, every point where the image's header puts it
    (sr,) = [a for a in m["annotations"] if a["source"] == "sr"]
    assert sr["text"] == "Diameter 12.5 mm" and sr["image"]["number"] == 2
    path2 = paths[order[1]]
    corners = [(4.5, 4.5), (10.5, 4.5), (10.5, 9.5), (4.5, 4.5)]
    for got, (col, row) in zip(sr["points"], corners, strict=True):
        assert np.allclose(got, _pixel_lps(path2, col, row), atol=1e-3)
    shapes = sorted(a["shape"] for a in m["annotations"] if a["source"] == "gsps")
    assert shapes == ["ARROW", "CIRCLE", "POINT", "POLYLINE", "TEXT"]
    # a point in DISPLAY units: a fraction of the displayed area (pixels 17..48), not of the image
    (point,) = [a for a in m["annotations"] if a["shape"] == "POINT"]
    (c1, r1), (c2, r2) = DISPLAYED_AREA
    fx, fy = DISPLAY_POINT
    col, row = c1 - 1 + fx * (c2 - c1 + 1), r1 - 1 + fy * (r2 - r1 + 1)
    assert (col, row) == (24.0, 40.0)
    assert np.allclose(point["points"][0], _pixel_lps(path2, col, row), atol=1e-3)
    (text,) = [a for a in m["annotations"] if a["shape"] == "TEXT"]
    assert text["text"] == "nodule"
    assert np.allclose(text["anchor"], _pixel_lps(path2, 8.0, 8.0), atol=1e-3)
    # the reports (SR lines as ownscan.core.reports writes them) and the glossary
    reports = [d for d in m["documents"] if d["lines"]]
    texts = [t for d in reports for _, _, t in d["lines"]]
    assert any("hypodense nodule" in t for t in texts)
    assert any(t == "Diameter: 12.5 mm" for t in texts)
    terms = [g["term"] for g in m["glossary"]]
    assert {"hypodense", "nodule", "unremarkable"} <= set(terms)
    assert all(
        g["sources"] and g["sources"][0]["url"].startswith("https://") for g in m["glossary"]
    )
    # a series of another study has nothing of it
    dwi = _series(c)["MR DWI"]["series_uid"]
    other = c.get(f"/api/series/{dwi}/marks").json()
    assert other["annotations"] == [] and other["key_images"] == [] and other["documents"] == []
