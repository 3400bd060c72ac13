"""The viewer's Save hands on the series' warnings: the files it writes carry them (each
exporter as its format allows) and the outcome says them, the first in the status line (in the
views' orange), every one in the Save window; a screenshot of the window keeps them in its PNG
(a real window under Xvfb, real exporters)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trimesh
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent.parent))

from ctgen import write_ct_series  # isort: skip

from ownscan.core import assemble
from ownscan.core.plugin_host import get_host
from ownscan.core.recorded import SIDECAR_SUFFIX
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_volumes
from ownscan.core.volume import Volume


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
    assert job.finished and job.error is None, job.error


@pytest.fixture
def warned(tmp_path: Path) -> tuple[Volume, list[str]]:
    """A tilted CT with two slices missing, loaded; its warnings as the files record them."""
    folder = tmp_path / "in"
    write_ct_series(
        folder, tilt_deg=12.0, positions=[k * 2.5 for k in range(10) if k not in (4, 5)]
    )
    (s,) = assemble(folder).series
    vol = s.load()
    assert len(vol.warnings) == 2
    return vol, [w.replace(str(folder) + "/", "") for w in vol.warnings]


def test_save_writes_and_says_the_warnings(
    xvfb: str, warned: tuple[Volume, list[str]], tmp_path: Path
) -> None:
    vol, recorded = warned
    with Viewer(entries_from_volumes([vol]), ViewerOptions(size=(900, 600))) as v:
        v.save.open = True
        v.frame()
        v.save.start(get_host().exporter("png"), tmp_path / "pics", {"size": (40, 40)})
        _run(v)
        job = v.save.job
        assert job is not None and job.paths
        for p in job.paths:
            with Image.open(p) as im:
                assert im.text["Warning"] == "\n".join(recorded)
        # the status line: the outcome and the first warning, with how many more
        assert v.status.startswith(v.save.outcome)
        assert v.status.endswith(f"; Warning: {vol.warnings[0]} (+1 more)")
        assert v.save.outcome.startswith("saved 10 files")  # the slices of the regular grid
        # the window draws every warning (no error); a screenshot of it keeps them all
        v.screenshot(tmp_path / "saved.png")
        with Image.open(tmp_path / "saved.png") as im:
            assert im.text["Warning"] == "\n".join(recorded)

        v.save.start(get_host().exporter("stl"), tmp_path / "bone", {"max_triangles": 2000})
        _run(v)
        job = v.save.job
        assert job is not None
        stl = tmp_path / "bone.stl"
        assert job.paths == [stl, stl.with_name(stl.name + SIDECAR_SUFFIX)]
        assert trimesh.load(stl).is_watertight
        side = job.paths[1].read_text(encoding="utf-8").splitlines()
        assert side[1:] == [f"- {w}" for w in recorded]
        assert "Warning:" in v.status and str(stl) in v.status


def test_save_of_a_series_without_warnings_says_none(xvfb: str, tmp_path: Path) -> None:
    write_ct_series(tmp_path / "in", n_slices=6)
    (s,) = assemble(tmp_path / "in").series
    with Viewer(entries_from_volumes([s.load()]), ViewerOptions(size=(900, 600))) as v:
        v.save.start(get_host().exporter("movie"), tmp_path / "m.gif", {"frames": 2})
        _run(v)
        assert v.save.job is not None and v.save.job.paths == [tmp_path / "m.gif"]
        assert "Warning" not in v.status and v.status == v.save.outcome
        v.screenshot(tmp_path / "shot.png")
        with Image.open(tmp_path / "shot.png") as im:
            assert "Warning" not in im.text
