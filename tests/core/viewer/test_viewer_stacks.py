"""A series of several stacks in the desktop viewer (tests/core/stacksgen.py: three stacks
angled to three discs under one Series Instance UID). From a folder each stack is an entry of
its own whose caption says which stack of how many; from a library too (``UID~N``, from the
stacks the library recorded at import), and a library that has not recorded them (opened
read-only) shows the series as one entry that steps through its stacks, each shown as itself
with those words; never one merged volume, none left out."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/core: stacksgen
from stacksgen import SERIES_UID, TILTS, write_three_stacks

from ownscan.core import assemble
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly


def _tilt(affine: np.ndarray) -> float:
    """The stack's tilt about the left-right axis, in degrees, from its slice direction."""
    normal = affine[:3, 2] / np.linalg.norm(affine[:3, 2])
    return float(np.degrees(np.arctan2(-normal[1], normal[2])))


def test_folder_lists_each_stack_with_its_words(tmp_path: Path) -> None:
    write_three_stacks(tmp_path / "in")
    entries = entries_from_assembly(assemble(tmp_path / "in"))
    assert len(entries) == 3 and {e.info.series_instance_uid for e in entries} == {SERIES_UID}
    tilts = []
    for n, e in enumerate(entries, 1):
        words = e.caption()[2]
        assert f"stack {n} of 3" in words and "8 images" in words, words
        vol = e.volume()
        tilts.append(round(_tilt(vol.affine)))
        assert ("oblique axial" in words) == (tilts[-1] != 0), words
        assert any("3 stacks" in w for w in vol.warnings)  # assembly's note is kept
    assert sorted(tilts) == sorted(round(t) for t in TILTS)  # each stack once, as itself


def _library(tmp_path: Path) -> Path:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    write_three_stacks(tmp_path / "in")
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
    return tmp_path / "lib"


def test_library_lists_each_stack_as_an_entry(tmp_path: Path) -> None:
    from ownscan.core.library import open_library
    from ownscan.core.viewer import entries_from_library

    lib_path = _library(tmp_path)
    by_tilt = {round(_tilt(s.load().affine)): s for s in assemble(tmp_path / "in").volumes()}
    with open_library(lib_path) as lib:
        entries = entries_from_library(lib)  # from the index: no file read for the list
        assert [e.key for e in entries] == [f"{SERIES_UID}~{k}" for k in (1, 2, 3)]
        seen = set()
        for k, entry in enumerate(entries, 1):
            words = entry.caption()[2]
            assert f"stack {k} of 3, " in words and "8 images" in words, words
            vol = entry.volume()  # this stack alone, as itself
            assert entry.stack is None
            tilt = round(_tilt(vol.affine))
            assert ("oblique axial" in words) == (tilt != 0), words
            np.testing.assert_array_equal(vol.voxels, by_tilt[tilt].load().voxels)
            assert entry.thumbnail_files is not None and entry.thumbnail_files() is not None
            seen.add(tilt)
        assert seen == set(by_tilt)
        # one stack asked for is that entry alone
        (one,) = entries_from_library(lib, [f"{SERIES_UID}~2"])
        assert one.key == f"{SERIES_UID}~2"


def test_library_without_recorded_stacks_steps_through_them(tmp_path: Path) -> None:
    """A library whose index has not recorded the stacks (an older one opened read-only)."""
    import sqlite3

    from ownscan.core.library import open_library
    from ownscan.core.viewer import entries_from_library

    lib_path = _library(tmp_path)
    by_tilt = {round(_tilt(s.load().affine)): s for s in assemble(tmp_path / "in").volumes()}
    conn = sqlite3.connect(lib_path / "index.sqlite")
    conn.execute("UPDATE series SET stacks = NULL")
    conn.commit()
    conn.close()
    with open_library(lib_path) as lib, open_library(lib_path) as writer:
        writer.store.lock()  # another writer holds it: the list cannot record them now
        try:
            (entry,) = entries_from_library(lib)
        finally:
            writer.store.unlock()
        first = entry.volume()  # no "2 stacks found" refusal
        stack = entry.stack
        assert stack is not None and (stack.kind, stack.count) == ("volumes", 3)
        seen = set()
        for k in range(3):
            vol = first if k == 0 else stack.get(k)
            words = stack.caption(k)
            assert words.startswith(f"stack {k + 1} of 3, ") and "8 images" in words
            tilt = round(_tilt(vol.affine))
            assert ("oblique axial" in words) == (tilt != 0), words
            np.testing.assert_array_equal(vol.voxels, by_tilt[tilt].load().voxels)
            seen.add(tilt)
        assert seen == set(by_tilt)


def test_window_shows_the_stack_and_says_which(xvfb: str, tmp_path: Path) -> None:
    """The real window (Xvfb): the library's stack 3 is shown with its own geometry, and
    the caption says ``stack 3 of 3``."""
    from ownscan.core.library import open_library
    from ownscan.core.viewer import entries_from_library

    lib_path = _library(tmp_path)
    with open_library(lib_path) as lib:
        entries = entries_from_library(lib)
        with Viewer(entries, ViewerOptions(size=(640, 480))) as v:
            v.frame()
            one = v.view.volume.affine.copy()
            assert "stack 1 of 3" in v.entry.caption()[2]
            v.select_series(2)
            v.frame()
            assert "stack 3 of 3" in v.entry.caption()[2]
            three = v.view.volume
            assert not np.allclose(three.affine, one)
            np.testing.assert_array_equal(three.voxels, lib.load_volume(f"{SERIES_UID}~3").voxels)
            shot = v.frame(capture=True)
            assert shot is not None and shot.std() > 5
