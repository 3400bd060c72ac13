"""Hostile files through the browser's door: uploaded to a real ``ownscan serve``, imported,
then asked for as volumes. A series none of whose images decodes is a 422 with one line
naming the file (never a volume of padding drawn as if it were the scan); a multi-frame file
with an untrue offset table gives each frame its own picture; the good series beside them is
whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from serve_process import ServeProcess, write_ct_series
from test_hostile_variants import write_multiframe_j2k
from test_serve_uploads import _announce, _import, _send, empty_library, server

from ownscan.core.library import open_library

__all__ = ["empty_library", "server"]  # the fixtures, used here by name


def test_hostile_uploads(server: ServeProcess, empty_library: Path, tmp_path: Path) -> None:
    good = write_ct_series(tmp_path / "good", n_slices=3, series_number=1)
    blank = write_ct_series(tmp_path / "blank", n_slices=3, series_number=2, seed=3)
    for f in blank:  # a Photometric Interpretation no decoder knows: nothing decodes
        ds = pydicom.dcmread(f)
        ds.PhotometricInterpretation = "FOO"
        ds.save_as(f)
    mf, expected = write_multiframe_j2k(
        tmp_path / "mf", tmp_path / "work", lambda t: t[1:] + t[:1], 1
    )
    files = [(f"scan/{f.parent.name}/{f.name}", f.read_bytes()) for f in [*good, *blank, mf]]
    c = server.client()
    upload = _announce(c, files)
    for n, (_name, data) in enumerate(files):
        _send(c, upload, n, data)
    job = _import(c, upload)
    assert job["state"] == "done"
    assert all(r["status"] == "imported" for r in job["results"]), job["results"]

    good_uid, blank_uid, mf_uid = (
        pydicom.dcmread(f).SeriesInstanceUID for f in (good[0], blank[0], mf)
    )
    with open_library(empty_library) as lib:
        uids = {
            s.series_uid
            for p in lib.patients()
            for st in lib.studies(p.key)
            for s in lib.series(st.study_uid)
        }
        by_frames = lib.load_volume(mf_uid)
    assert uids == {good_uid, blank_uid, mf_uid}
    r = c.get(f"/api/series/{good_uid}/voxels")
    assert r.status_code == 200
    r = c.get(f"/api/series/{blank_uid}/voxels")
    assert r.status_code == 422, r.text
    # one line: the library's copy of the first file, and why (the stored copy: the library
    # keeps every file under its own name)
    said = r.json()["error"]
    assert "could be decoded" in said and "'Photometric Interpretation' value 'FOO'" in said
    # the multi-frame file (frames as repetitions: volume 0 is the first frame)
    np.testing.assert_array_equal(by_frames.voxels.reshape(expected[0].shape), expected[0])
