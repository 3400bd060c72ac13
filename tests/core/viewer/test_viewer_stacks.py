"""A series of several stacks in the desktop viewer (tests/core/stacksgen.py: three stacks
angled to three discs under one Series Instance UID). From a folder each stack is an entry of
its own whose caption says which stack of how many; from a library the series is one entry
that steps through its stacks, each shown as itself with those words; never one merged
volume, none left out."""

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


def test_library_series_steps_through_its_stacks(tmp_path: Path) -> None:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.viewer import entries_from_library

    write_three_stacks(tmp_path / "in")
    by_tilt = {round(_tilt(s.load().affine)): s for s in assemble(tmp_path / "in").volumes()}
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
        (entry,) = entries_from_library(lib)
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
    """The real window (Xvfb): the stack control steps to stack 3, whose own geometry the
    views take, and the caption says ``stack 3 of 3``."""
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.viewer import entries_from_library

    write_three_stacks(tmp_path / "in")
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
        entries = entries_from_library(lib)
        with Viewer(entries, ViewerOptions(size=(640, 480))) as v:
            v.frame()
            assert (v.cine.kind, v.cine.count) == ("volumes", 3)
            assert v.cine.caption().startswith("stack 1 of 3")
            one = v.view.volume.affine.copy()
            assert v.cine.go(2)
            v.frame()
            assert v.cine.caption().startswith("stack 3 of 3")
            three = v.view.volume
            assert not np.allclose(three.affine, one)
            np.testing.assert_array_equal(three.voxels, entries[0].stack.get(2).voxels)  # type: ignore[union-attr]
            shot = v.frame(capture=True)
            assert shot is not None and shot.std() > 5
