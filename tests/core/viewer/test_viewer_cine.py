"""Frames, images and volumes in the real window: ultrasound cines (grey and colour) in one
pane that step and play at the file's speed, series of radiographs stepped through like slices,
4D series with a volume/phase control and a film, and the help overlay in plain words."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import glfw
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/core: fourdgen
from fourdgen import attrs, diffusion_table, voxel_value, write_4d_series
from test_viewer_window import park_pointer
from twodgen import bar_column, write_cine, write_radiographs

from ownscan.core import assemble
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly
from ownscan.core.viewer._stack import MIN_KEPT, Stack
from ownscan.core.volume import Dimension

SIZE = (640, 480)


def _view(v: Viewer, shot: np.ndarray, name: str) -> np.ndarray:
    r = v.layout().views[name]
    return shot[r.y : r.y + r.h, r.x : r.x + r.w].astype(int)


def _hover(v: Viewer, name: str) -> None:
    """The mouse over the middle of view ``name``, and nowhere else: the real X pointer is
    moved off the window first (another test may have left it over this one's controls)."""
    park_pointer()
    v.frame()  # takes the pointer's leave event, if any
    r = v.layout().views[name]
    v.on_cursor_pos(r.x + r.w / 2, r.y + r.h / 2)


def _assert_bar_shown(v: Viewer, column: int, frame: int, colour: bool = False) -> None:
    """The bright bar of the frame/image shown lies where the view maps its voxel column."""
    shot = v.frame(capture=True)
    assert shot is not None
    part = _view(v, shot, "image")
    r = v.layout().views["image"]
    vol = v.view.volume
    rows = vol.shape[1]
    want_x, want_y = v.view.lps_to_pixel(
        "image", r.size, vol.index_to_lps([column, (rows - 1) / 2.0, frame])
    )
    line = part[int(want_y)]
    lit = (line[:, 0] > 150) & (line[:, 1] < 100) if colour else line.max(axis=-1) > 150
    xs = np.nonzero(lit)[0]
    assert xs.size, f"no bar in the middle row (frame {frame})"
    assert abs(xs.mean() - want_x) < 2.5, (xs, want_x)


def _play_until_all_seen(v: Viewer, count: int, timeout: float = 60.0) -> set[int]:
    seen = {v.cine.index}
    deadline = time.monotonic() + timeout  # a guard against a hang, not a timing check
    while len(seen) < count and time.monotonic() < deadline:
        v.frame()
        seen.add(v.cine.index)
    return seen


# -- multi-frame ultrasound: one pane, frames, cine -------------------------------------------
@pytest.mark.parametrize(
    ("colour", "rates", "fps", "said"),
    [
        (False, {"FrameTime": 50.0}, 20.0, "Frame Time"),
        (True, {}, 10.0, "no frame rate in the file"),
    ],
    ids=["grey-frame-time", "colour-no-rate"],
)
def test_cine_is_one_pane_that_steps_and_plays(
    xvfb: str, tmp_path: Path, colour: bool, rates: dict[str, float], fps: float, said: str
) -> None:
    frames, cols = 12, 64
    path = write_cine(tmp_path / "cine.dcm", frames=frames, cols=cols, colour=colour, rates=rates)
    entries = entries_from_assembly(assemble([path]))
    assert len(entries) == 1
    with Viewer(entries, ViewerOptions(size=SIZE)) as v:
        v.show_overlays = False  # the bar is found in the picture's middle row
        lay = v.layout()
        assert list(lay.views) == ["image"] and lay.cine is not None
        assert (v.cine.kind, v.cine.count, v.cine.fps) == ("frames", frames, fps)
        assert said in v.cine.fps_source
        assert v.cine.index == 0 and v.cine.caption() == f"frame 1/{frames}"
        _assert_bar_shown(v, bar_column(0, cols, frames), 0, colour)
        v.on_key(glfw.KEY_RIGHT, glfw.PRESS)
        assert v.cine.index == 1
        _assert_bar_shown(v, bar_column(1, cols, frames), 1, colour)
        _hover(v, "image")
        v.on_scroll(0.0, -1.0)  # wheel down: the next frame, as a page reads
        assert v.cine.index == 2
        _assert_bar_shown(v, bar_column(2, cols, frames), 2, colour)
        v.on_scroll(0.0, 1.0)
        assert v.cine.index == 1
        v.on_key(glfw.KEY_LEFT, glfw.PRESS)
        v.on_key(glfw.KEY_LEFT, glfw.PRESS)  # stays on the first
        assert v.cine.index == 0
        v.on_key(glfw.KEY_C, glfw.PRESS)
        assert v.cine.playing
        assert _play_until_all_seen(v, frames) == set(range(frames))  # every frame, wrapping
        v.on_key(glfw.KEY_C, glfw.PRESS)
        assert not v.cine.playing
        shown = v.cine.index
        for _ in range(5):
            v.frame()
        assert v.cine.index == shown
        _assert_bar_shown(v, bar_column(shown, cols, frames), shown, colour)


def test_real_colour_ultrasound_cine(xvfb: str, pydicom_files: dict[str, Path]) -> None:
    """pydicom's 120-frame colour ultrasound (Frame Time 33.333 ms): one pane, 30 frames per
    second, and the heart moves between frames."""
    entries = entries_from_assembly(assemble([pydicom_files["color3d_jpeg_baseline.dcm"]]))
    with Viewer(entries, ViewerOptions(size=SIZE)) as v:
        v.show_overlays = False
        assert list(v.layout().views) == ["image"]
        assert (v.cine.kind, v.cine.count, v.cine.fps) == ("frames", 120, 30.0)
        first = _view(v, v.frame(capture=True), "image")
        assert first.std() > 10 and (np.abs(first[..., 0] - first[..., 2]) > 30).any()  # colour
        v.cine.go(60)
        later = _view(v, v.frame(capture=True), "image")
        assert (np.abs(later - first).max(axis=-1) > 40).mean() > 0.01


@pytest.mark.parametrize(
    ("rates", "want"),
    [
        ({"FrameTime": 40.0}, (25.0, "FrameTime")),
        ({"CineRate": 15}, (15.0, "CineRate")),
        (
            {"RecommendedDisplayFrameRate": 12, "FrameTime": 40.0, "CineRate": 25},
            (12.0, "RecommendedDisplayFrameRate"),
        ),
        ({"FrameTime": 0.0, "CineRate": 8}, (8.0, "CineRate")),  # zero is no frame time
        ({}, None),
    ],
    ids=["frame-time", "cine-rate", "recommended-first", "zero-frame-time", "none"],
)
def test_frame_rate_from_the_header(
    tmp_path: Path, rates: dict[str, float], want: tuple[float, str] | None
) -> None:
    vol = assemble([write_cine(tmp_path / "c.dcm", rates=rates)]).series[0].load()
    assert vol.extra["frame_rate"] == want


# -- a series of single images: one entry, stepped like slices --------------------------------
def test_series_of_radiographs_is_one_entry_stepped_like_slices(xvfb: str, tmp_path: Path) -> None:
    sizes = [(60, 80), (90, 70), (50, 50)]
    write_radiographs(tmp_path / "cr", sizes)
    entries = entries_from_assembly(assemble(tmp_path / "cr"))
    assert len(entries) == 1
    with Viewer(entries, ViewerOptions(size=SIZE)) as v:
        v.show_overlays = False
        assert list(v.layout().views) == ["image"] and v.layout().cine is not None
        assert (v.cine.kind, v.cine.count) == ("images", 3)
        _hover(v, "image")
        for n, (rows, cols) in enumerate(sizes):  # in Instance Number order, not file order
            assert v.cine.index == n and v.cine.caption() == f"image {n + 1}/3"
            assert v.view.volume.shape == (1, rows, cols)
            _assert_bar_shown(v, bar_column(n, cols, 3), 0)
            v.on_scroll(0.0, -1.0)
        assert v.cine.index == 2  # the last stays
        v.on_key(glfw.KEY_UP, glfw.PRESS)
        assert v.cine.index == 1
        assert "3d" not in v.view.view_names
        v.on_key(glfw.KEY_2, glfw.PRESS)  # a 3D key does nothing harmful
        _assert_bar_shown(v, bar_column(1, sizes[1][1], 3), 0)


def test_images_of_one_size_keep_the_view_and_take_their_own_window(
    xvfb: str, tmp_path: Path
) -> None:
    write_radiographs(
        tmp_path / "cr", [(60, 80)] * 3, windows=[(1000, 2000), (2000, 800), (500, 300)]
    )
    with Viewer(entries_from_assembly(assemble(tmp_path / "cr")), ViewerOptions(size=SIZE)) as v:
        assert v.view.window == (2000.0, 1000.0)
        v.view.zoom("image", 2.0)
        v.cine.step(1)
        assert v.view.views["image"].zoom == 2.0  # one size: the view stays
        assert v.view.window == (800.0, 2000.0)  # the file's window of this image
        v.view.window_drag(30.0, 0.0)  # the user's own window is kept from then on
        mine = v.view.window
        v.cine.step(1)
        assert v.view.window == mine and v.view.volume.windows[0].width == 300.0


def test_library_series_of_images_and_4d_load_as_stacks(tmp_path: Path) -> None:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.viewer import entries_from_library

    write_radiographs(tmp_path / "in" / "cr", [(30, 40), (30, 40)])
    write_4d_series(
        tmp_path / "in" / "mr",
        n_vols=3,
        per_volume=attrs(TemporalPositionIdentifier=lambda v: v + 1),
    )
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
        by_modality = {e.info.modality: e for e in entries_from_library(lib)}
        cr, mr = by_modality["CR"], by_modality["MR"]
        assert cr.volume().shape == (1, 30, 40)
        assert cr.stack is not None and (cr.stack.kind, cr.stack.count) == ("images", 2)
        assert mr.volume().extra["volume"] == 0
        assert mr.stack is not None and (mr.stack.kind, mr.stack.count) == ("volumes", 3)
        np.testing.assert_array_equal(mr.stack.get(2).voxels[1], voxel_value(2, 1, 12, 10))


# -- 4D: a volume/phase control and a film ----------------------------------------------------
def test_4d_series_steps_and_plays_through_its_phases(xvfb: str, tmp_path: Path) -> None:
    n_vols, n_slices, rows, cols = 5, 6, 24, 20
    write_4d_series(
        tmp_path / "card",
        n_vols=n_vols,
        n_slices=n_slices,
        rows=rows,
        cols=cols,
        per_volume=attrs(TriggerTime=lambda v: 40.0 * v, AcquisitionNumber=1),
    )
    entries = entries_from_assembly(assemble(tmp_path / "card"))
    assert len(entries) == 1
    with Viewer(entries, ViewerOptions(size=SIZE)) as v:
        v.show_overlays = False
        lay = v.layout()
        assert list(lay.views) == ["axial", "coronal", "sagittal", "3d"] and lay.cine
        assert (v.cine.kind, v.cine.count) == ("volumes", n_vols)
        assert v.cine.fps == 25.0 and "real time" in v.cine.fps_source  # 40 ms between phases
        assert v.cine.caption() == "phase 1/5 · 0 ms"
        width, level = 6000.0, 3000.0  # voxel values 100 + 1000 * volume + ...
        v.view.set_window("fixed", width, level)
        v.set_mode("mip")  # the brightest value along each ray: it grows with the volume
        v.view.zoom("axial", 1.5)
        cursor = v.view.cursor_lps.copy()

        def axial_centre_grey() -> tuple[float, float]:
            """The grey at the cursor on screen, and the one the data say it must be."""
            shot = v.frame(capture=True)
            assert shot is not None
            r = v.layout().views["axial"]
            x, y = v.view.lps_to_pixel("axial", r.size, v.view.cursor_lps)
            seen = float(_view(v, shot, "axial")[int(y), int(x)].mean())
            i, j, k = np.round(v.view.volume.lps_to_index(v.view.cursor_lps)).astype(int)
            value = float(v.view.volume.voxels[k, j, i])
            return seen, np.clip((value - (level - width / 2)) / width, 0, 1) * 255

        shot0 = v.frame(capture=True)
        seen0, want0 = axial_centre_grey()
        assert abs(seen0 - want0) < 3
        v.on_key(glfw.KEY_RIGHT, glfw.PRESS)
        assert v.view.volume.extra["volume"] == 1 and v.cine.caption() == "phase 2/5 · 40 ms"
        # the views keep their slices, zoom and window: only the data change
        np.testing.assert_allclose(v.view.cursor_lps, cursor)
        assert v.view.views["axial"].zoom == 1.5 and v.view.window == (width, level)
        seen1, want1 = axial_centre_grey()
        assert abs(seen1 - want1) < 3 and seen1 - seen0 > 30
        shot1 = v.frame(capture=True)
        assert (np.abs(_view(v, shot1, "3d") - _view(v, shot0, "3d")).max(axis=-1) > 8).any()
        v.cine.toggle()
        assert _play_until_all_seen(v, n_vols) == set(range(n_vols))
        v.cine.toggle()
        k = v.cine.index
        assert v.view.volume.extra["volume"] == k
        np.testing.assert_array_equal(v.view.volume.voxels[2], voxel_value(k, 2, rows, cols))


def test_stack_decodes_on_demand_and_keeps_few_volumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ownscan.core.viewer import _stack

    monkeypatch.setattr(_stack, "IDLE_S", 0.05)  # the worker ends soon after its last wish
    write_4d_series(
        tmp_path / "f", n_vols=6, per_volume=attrs(TemporalPositionIdentifier=lambda v: v + 1)
    )
    series = assemble(tmp_path / "f").series[0]
    loads: list[int] = []

    def load(n: int):
        loads.append(n)
        return series.load(volume=n)

    one = series.load(volume=0).nbytes
    stack = Stack("volumes", 6, load, dimension=series.dimension, cache_bytes=3 * 2 * one)
    for n in range(6):
        np.testing.assert_array_equal(stack.get(n).voxels[4], voxel_value(n, 4, 12, 10))
    assert stack.cached_indices() == [3, 4, 5]  # three fit the budget; the oldest went
    assert loads == list(range(6))
    stack.get(4)
    assert loads == list(range(6))  # cached: not decoded again
    stack.decode_ahead(0)  # on the worker thread
    deadline = time.monotonic() + 60.0
    while stack.cached(0) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stack.cached(0) is not None and loads.count(0) == 2
    stack.get(0)
    assert loads.count(0) == 2
    while stack._worker is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stack._worker is None  # no thread is left waiting for nothing
    stack.trim()
    assert stack.cached_indices() == []
    stack.decode_ahead(5)  # a new wish starts a new worker
    while stack.cached(5) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stack.cached_indices() == [5]
    tiny = Stack("volumes", 6, load, cache_bytes=1)
    for n in range(6):
        tiny.get(n)
    assert len(tiny.cached_indices()) == MIN_KEPT  # the one shown and the next
    with pytest.raises(IndexError, match=r"out of range 0\.\.5"):
        stack.get(6)


@pytest.mark.parametrize(
    ("dim", "index", "want"),
    [
        (
            Dimension("cardiac phase", "TriggerTime", (0.0, 120.0, 240.0), "ms"),
            1,
            "phase 2/3 · 120 ms",
        ),
        (Dimension("time", "AcquisitionTime", (0.0, 2.0, 4.0), "s"), 2, "volume 3/3 · 4 s"),
        (
            Dimension(
                "diffusion",
                "DiffusionBValue",
                (0.0, 1000.0),
                "s/mm2",
                b_values=(0.0, 1000.0),
                b_vectors=((0.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
            ),
            1,
            "volume 2/2 · b=1000 s/mm2",
        ),
        (Dimension("acquisition", "AcquisitionNumber", (1.0, 2.0)), 0, "acquisition 1/2"),
        (Dimension("repetition", "order", (None, None)), 1, "volume 2/2"),
    ],
    ids=["phase", "time", "diffusion", "acquisition", "repetition"],
)
def test_the_fourth_dimension_in_words(dim: Dimension, index: int, want: str) -> None:
    assert dim.label(index) == want


def test_diffusion_series_says_its_b_values(tmp_path: Path) -> None:
    table = diffusion_table(4)

    def dwi(ds, v: int, z: int) -> None:
        ds.DiffusionBValue, ds.DiffusionGradientOrientation = table[v][0], list(table[v][1])

    write_4d_series(tmp_path / "d", n_vols=4, per_volume=dwi)
    entry = entries_from_assembly(assemble(tmp_path / "d"))[0]
    entry.volume()
    assert entry.stack is not None
    assert [entry.stack.caption(n) for n in range(4)] == [
        "volume 1/4 · b=0 s/mm2",
        "volume 2/4 · b=1000 s/mm2",
        "volume 3/4 · b=0 s/mm2",
        "volume 4/4 · b=1000 s/mm2",
    ]


# -- help ---------------------------------------------------------------------------------------
def test_help_opens_with_question_mark_and_f1(xvfb: str, tmp_path: Path) -> None:
    path = write_cine(tmp_path / "cine.dcm")
    with Viewer(entries_from_assembly(assemble([path])), ViewerOptions(size=SIZE)) as v:
        before = v.frame(capture=True)
        for key, mods in ((glfw.KEY_SLASH, glfw.MOD_SHIFT), (glfw.KEY_F1, 0)):
            v.on_key(key, glfw.PRESS, mods)
            assert v.show_help
            v.frame()
            helped = v.frame(capture=True)
            assert (np.abs(helped.astype(int) - before).max(axis=-1) > 30).mean() > 0.2
            v.on_key(glfw.KEY_ESCAPE, glfw.PRESS)
            assert not v.show_help
        v.on_key(glfw.KEY_SLASH, glfw.PRESS, 0)  # "/" alone is not "?"
        assert not v.show_help


def test_single_slice_cardiac_cine_is_one_pane_with_phases(xvfb: str, tmp_path: Path) -> None:
    """A cardiac cine MR of one slice: a 4D series whose volumes are single images, shown in
    one pane and played through its phases."""
    rows, cols = 24, 20
    write_4d_series(
        tmp_path / "cine",
        n_vols=4,
        n_slices=1,
        rows=rows,
        cols=cols,
        per_volume=attrs(TriggerTime=lambda v: 50.0 * v, AcquisitionNumber=1),
    )
    with Viewer(entries_from_assembly(assemble(tmp_path / "cine")), ViewerOptions(size=SIZE)) as v:
        assert list(v.layout().views) == ["image"] and v.layout().cine is not None
        assert (v.cine.kind, v.cine.count, v.cine.fps) == ("volumes", 4, 20.0)
        v.on_key(glfw.KEY_RIGHT, glfw.PRESS)
        assert v.cine.caption() == "phase 2/4 · 50 ms"
        np.testing.assert_array_equal(v.view.volume.voxels[0], voxel_value(1, 0, rows, cols))
        v.on_key(glfw.KEY_C, glfw.PRESS)
        assert _play_until_all_seen(v, 4) == {0, 1, 2, 3}
