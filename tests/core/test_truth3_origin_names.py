"""Warnings and errors about a library series name the file the user imported, never the
library's stored copy (a name of hashes inside the library folder).

A CT series with one untrue header value (Rescale Slope 0) and one slice that no decoder
reads is imported into a library, then reached through every door: ``ownscan info``,
``export`` and ``render`` on ``library:UID``, the viewer's loader, and a real ``ownscan
serve`` (its series header and its voxel error). A series imported through serve's upload
is recorded under the name the browser gave, not the staging path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped

from ownscan.core.library import open_library

sys.path.insert(0, str(Path(__file__).parent / "serve"))
from serve_process import ServeProcess
from test_serve_uploads import _announce, _import, _send


def _series(folder: Path) -> tuple[list[Path], str]:
    files = write_ct_series(folder, n_slices=4)
    ds = pydicom.dcmread(files[1])
    ds.RescaleSlope = "0"
    ds.save_as(files[1])
    ds = pydicom.dcmread(files[2])
    ds.PhotometricInterpretation = "FOO"  # no decoder knows it: that slice fails
    ds.save_as(files[2])
    return files, str(ds.SeriesInstanceUID)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], str]:
    tmp = tmp_path_factory.mktemp("origin")
    files, uid = _series(tmp / "my scans" / "ct")
    lib = tmp / "library"
    r = capped("import", str(files[0].parent), "--library", str(lib))
    assert r.returncode == 0, r.stderr
    return lib, files, uid


def _named_right(text: str, lib: Path, files: list[Path]) -> None:
    assert str(files[1]) in text, text  # the slope's warning
    assert str(files[2]) in text, text  # the slice that does not decode
    assert str(lib) not in text and "objects/" not in text, text


def test_cli_names_the_imported_file(
    imported: tuple[Path, list[Path], str], tmp_path: Path
) -> None:
    lib, files, uid = imported
    src = f"library:{uid}"
    r = capped("info", src, "--library", str(lib))
    assert r.returncode == 0
    assert str(files[1]) in r.stdout and str(lib) not in r.stdout + r.stderr, r.stdout
    r = capped(
        "render", src, "--library", str(lib), "-o", str(tmp_path / "r.png"), "--backend", "cpu"
    )
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    _named_right(r.stdout + r.stderr, lib, files)
    r = capped("export", src, "--library", str(lib), "-o", str(tmp_path / "out"))
    assert_handled(r)
    assert str(files[2]) in r.stderr and str(lib) not in r.stdout + r.stderr, r.stderr


def test_viewer_loader_names_the_imported_file(imported: tuple[Path, list[Path], str]) -> None:
    from ownscan.core.viewer._sources import _library_sources

    lib, files, uid = imported
    with open_library(lib) as library:
        (series,) = _library_sources(library, uid)
        vol = series.load()
    _named_right(" ".join(vol.warnings), lib, files)
    assert series.files == [str(f) for f in files]


def test_serve_names_the_imported_file(imported: tuple[Path, list[Path], str]) -> None:
    lib, files, uid = imported
    s = ServeProcess.start(lib)
    try:
        c = s.client()
        r = c.get(f"/api/series/{uid}")
        assert r.status_code == 200, r.text
        _named_right(" ".join(r.json()["warnings"]), lib, files)
    finally:
        assert s.stop() == 0, s.log


def test_upload_is_recorded_under_the_browsers_name(tmp_path: Path) -> None:
    files, uid = _series(tmp_path / "src")
    lib = tmp_path / "library"
    open_library(lib).close()
    s = ServeProcess.start(lib)
    try:
        c = s.client()
        sent = [(f"cd/DICOM/{f.name}", f.read_bytes()) for f in files]
        upload = _announce(c, sent)
        for n, (_name, data) in enumerate(sent):
            _send(c, upload, n, data)
        job = _import(c, upload)
        assert job["state"] == "done", job
        r = c.get(f"/api/series/{uid}")
        assert r.status_code == 200, r.text
        text = " ".join(r.json()["warnings"])
    finally:
        assert s.stop() == 0, s.log
    with open_library(lib) as library:
        origins = sorted(i.origin for i in library.instances(uid))
    assert all("upload" not in o and str(lib) not in o for o in origins), origins
    assert [o.rsplit("/", 1)[-1] for o in origins] == [f.name for f in files], origins
    assert files[1].name in text and files[2].name in text and str(lib) not in text, text
