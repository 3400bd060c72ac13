"""2D pictures that share a Series Instance UID with a 3D stack (a secondary capture, a
scout) are items of their own everywhere the series is shown: ``info``, ``render`` (which
names them when it draws the volume, and draws each with ``--series``), the desktop viewer's
list from a folder and from the library. They used to be left out of the library viewer and
the page (which showed only the 3D stacks) and the scout out of the folder viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from beside_gen import N_SLICES, write_volume_with_pictures
from PIL import Image

from ownscan.core import assemble
from ownscan.core.cli import main


def test_info_and_render_show_every_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_volume_with_pictures(tmp_path / "in")
    found = assemble(tmp_path / "in")
    kinds = sorted(s.kind for s in found.series)
    assert kinds == ["image", "localizer", "volume"]
    assert main(["info", str(tmp_path / "in")]) == 0
    out = capsys.readouterr().out
    assert "CT volume" in out and "CT image" in out and "CT localizer" in out
    png = tmp_path / "v.png"
    args = ["render", str(tmp_path / "in"), "--mode", "mpr", "--size", "64x64", "--backend"]
    assert main([*args, "cpu", "-o", str(png)]) == 0
    err = capsys.readouterr().err
    assert "this series holds 3 stacks" in err
    assert "image, 1 image" in err and "localizer, 1 image" in err
    for n, s in enumerate(found.series, 1):
        if s.kind == "volume":
            continue
        one = tmp_path / f"{n}.png"
        assert main([*args, "cpu", "--series", str(n), "-o", str(one)]) == 0
        assert np.asarray(Image.open(one)).std() > 0  # a picture, not a blank


def test_the_folder_viewer_lists_each_picture(tmp_path: Path) -> None:
    from ownscan.core.viewer import entries_from_assembly

    write_volume_with_pictures(tmp_path / "in")
    entries = entries_from_assembly(assemble(tmp_path / "in"))
    shapes = sorted(e.volume().shape for e in entries)
    assert len(entries) == 3
    assert (N_SLICES, 48, 64) in shapes and shapes.count((1, 48, 64)) == 2


def test_the_library_viewer_steps_through_volume_and_pictures(tmp_path: Path) -> None:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.viewer import entries_from_library

    uid = write_volume_with_pictures(tmp_path / "in")
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
        (entry,) = [e for e in entries_from_library(lib) if e.info.series_instance_uid == uid]
        assert entry.volume().shape == (N_SLICES, 48, 64)  # the 3D stack first
        stack = entry.stack
        assert stack is not None and stack.count == 3
        assert [stack.caption(k).split(", ")[1] for k in range(3)] == [
            "axial",
            "image",
            "localizer",
        ]
        assert stack.get(1).is_2d and stack.get(2).is_2d
