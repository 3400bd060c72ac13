"""The viewer's Save: the exporters that fit the open series, run on a thread while the window
draws, with progress and the outcome (a real window under Xvfb, real exporters)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from viewer_phantom import phantom
from viewer_ui import click_place

sys.path.insert(0, str(Path(__file__).parent.parent / "library"))

from library_dicomgen import ct_series

from ownscan.core.plugin_host import get_host
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_library, entries_from_volumes
from ownscan.core.viewer._save import default_output, fitting_exporters
from ownscan.core.volume import Volume


def _fit(volume: Volume, has_sources: bool) -> set[str]:
    return {
        ex.name
        for ex, why in fitting_exporters(get_host().exporters(), volume, has_sources)
        if why is None
    }


def test_the_formats_that_fit() -> None:
    vol = phantom(n=16)
    names = {ex.name for ex in get_host().exporters()}
    assert {"png", "movie", "nifti", "stl", "obj", "ply", "dicom-anon", "share"} <= names
    assert _fit(vol, True) == names
    assert _fit(vol, False) == names - {"dicom-anon", "share"}  # no original files known
    one = Volume(np.zeros((1, 32, 32), np.int16), modality="CR")
    assert not {"stl", "obj", "ply"} & _fit(one, True)  # no surface of one image
    colour = Volume(np.zeros((4, 8, 8, 3), np.uint8), modality="US")
    assert not {"stl", "obj", "ply"} & _fit(colour, True)
    reasons = dict(
        (ex.name, why) for ex, why in fitting_exporters(get_host().exporters(), one, False)
    )
    assert "several slices" in str(reasons["stl"]) and "original DICOM" in str(reasons["share"])


def test_default_output_is_a_free_name_in_downloads(tmp_path: Path) -> None:
    png = get_host().exporter("png")
    (tmp_path / "Downloads").mkdir()
    first = default_output(png, "2_head", tmp_path)
    assert first == tmp_path / "Downloads" / "2_head-png"
    first.mkdir()
    assert default_output(png, "2_head", tmp_path).name == "2_head-png-2"
    movie = get_host().exporter("movie")
    (tmp_path / "Downloads" / "2_head-movie.mp4").write_bytes(b"")
    assert default_output(movie, "2_head", tmp_path).name == "2_head-movie-2"


@pytest.fixture
def library_entries(tmp_path: Path) -> Any:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_types import ImportOptions

    ct_series(tmp_path / "ct", 6, size=32, patient=("Doe^Jane", "P1"))
    lib = open_library(tmp_path / "lib")
    imp = get_host().find_importer(str(tmp_path / "ct"))
    assert lib.import_items(imp.iter_items(str(tmp_path / "ct"), ImportOptions())).ok
    yield entries_from_library(lib)
    lib.close()


def _run(v: Viewer, timeout: float = 120.0) -> None:
    """Draw frames (the window stays live) until the export is done and its outcome shown."""
    job = v.save.job
    assert job is not None
    for _ in range(int(timeout / 0.05)):
        v.frame()
        if job.finished:
            break
        job.wait(0.05)
    v.frame()
    assert job.finished


def test_save_pictures_and_a_movie_off_the_ui_thread(
    xvfb: str, library_entries: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Viewer(library_entries, ViewerOptions(size=(1000, 640))) as v:
        v.save.open = True
        v.frame()
        v.frame()
        assert v.save.path.startswith(str(tmp_path))  # the default: under the home folder
        png = get_host().exporter("png")
        v.save.start(png, tmp_path / "pictures", {"size": (64, 64)})
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        # every slice (the default), counted as they were written
        assert len(job.paths) == 6 and all(p.suffix == ".png" and p.is_file() for p in job.paths)
        assert job.total == len(job.paths) == job.done
        assert v.save.outcome.startswith(f"saved {len(job.paths)} files")
        from PIL import Image

        with Image.open(job.paths[0]) as im:
            assert im.size == (64, 64)
        movie = get_host().exporter("movie")
        out = tmp_path / "turn.gif"
        v.save.start(movie, out, {"frames": 5, "size": (48, 48)}, three_d=True)  # a turntable
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        assert job.paths == [out] and job.total == 5
        with Image.open(out) as im:
            assert im.n_frames == 5 and im.size == (48, 48)
        v.screenshot(tmp_path / "save.png")
        # an existing name is never overwritten: the outcome says so, the file stays
        before = out.read_bytes()
        v.save.start(movie, out, {"frames": 5, "size": (48, 48)})
        _run(v)
        assert v.save.failed and "not saved" in v.save.outcome and "exists" in v.save.outcome
        assert out.read_bytes() == before


def test_save_anonymised_dicom_from_the_library(
    xvfb: str, library_entries: Any, tmp_path: Path
) -> None:
    with Viewer(library_entries, ViewerOptions(size=(900, 600))) as v:
        names = {ex.name for ex, why in v.save.choices() if why is None}
        assert {"dicom-anon", "share", "png"} <= names
        v.save.start(get_host().exporter("dicom-anon"), tmp_path / "anon")
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        files = [p for p in job.paths if p.is_file()]
        assert len(files) == 6
        for p in files:
            ds = pydicom.dcmread(p)
            assert "Doe" not in str(ds.get("PatientName", ""))
            assert ds.get("PatientIdentityRemoved") == "YES"


def test_volumes_in_memory_offer_no_dicom_rewrite_and_save_a_mesh(
    xvfb: str, tmp_path: Path
) -> None:
    import trimesh

    with Viewer(entries_from_volumes([phantom(n=16)]), ViewerOptions(size=(800, 600))) as v:
        choices = {ex.name: why for ex, why in v.save.choices()}
        assert choices["dicom-anon"] is not None and choices["stl"] is None
        v.save.start(get_host().exporter("stl"), tmp_path / "surface")
        _run(v)
        job = v.save.job
        assert job is not None and job.error is None, job.error
        assert job.paths == [tmp_path / "surface.stl"]
        assert trimesh.load(job.paths[0]).is_watertight


def test_save_through_the_window(
    xvfb: str, library_entries: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The toolbar's Save..., the png format picked, the default path in ~/Downloads, Save."""
    (tmp_path / "Downloads").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    with Viewer(library_entries, ViewerOptions(size=(1000, 640))) as v:
        v.save.open = True
        v.frame()
        v.frame()
        click_place(v, v.save.places["format:png"])
        assert v.save.path == str(tmp_path / "Downloads" / "2_Axial_1mm-png")
        click_place(v, v.save.places["save"])
        job = v.save.job
        assert job is not None and job.exporter.name == "png"
        _run(v)
        assert job.error is None, job.error
        assert len(job.paths) == 6
        assert all(p.is_relative_to(tmp_path / "Downloads" / "2_Axial_1mm-png") for p in job.paths)
