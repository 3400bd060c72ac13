"""``ownscan render``'s and ``ownscan compare``'s PNG carry the series' warnings they print, in
PNG's ``Warning`` text chunk (ownscan.core.recorded; docs/EXPORT.md, "Warnings in the files"):
a picture handed on keeps them. The series: a generated CT with a gantry tilt and two slices
missing (two warnings, one naming a file with its folder: the PNG names it without)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ctgen import write_ct_series
from PIL import Image

from ownscan.core import assemble
from ownscan.core.cli import main


def _warned(folder: Path) -> list[str]:
    """A CT of a tilted gantry with two slices missing; the warnings as its files record them
    (the folder left out of the file names)."""
    write_ct_series(
        folder, tilt_deg=12.0, positions=[k * 2.5 for k in range(10) if k not in (4, 5)]
    )
    (s,) = assemble(folder).series
    assert len(s.warnings) == 2, s.warnings
    assert any(str(folder) in w for w in s.warnings)  # said with the folder on the terminal
    return [w.replace(str(folder) + "/", "") for w in s.warnings]


@pytest.mark.parametrize("mode", ["mip", "mpr"])
def test_render_writes_the_warnings_into_its_png(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = _warned(tmp_path / "in")
    out = tmp_path / "p.png"
    args = ["render", str(tmp_path / "in"), "-o", str(out), "--size", "48x40", "--mode", mode]
    assert main([*args, "--backend", "cpu"]) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if ln.startswith("ownscan render: warning:")]) == 2
    with Image.open(out) as im:
        assert im.text["Warning"] == "\n".join(recorded)
        assert im.size == (48, 40)
    assert str(tmp_path).encode() not in out.read_bytes()


def test_render_of_a_series_without_warnings_writes_none(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "in", n_slices=6)
    out = tmp_path / "p.png"
    assert main(["render", str(tmp_path / "in"), "-o", str(out), "--backend", "cpu"]) == 0
    with Image.open(out) as im:
        assert "Warning" not in im.text


def test_compare_writes_each_sides_warnings_into_its_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = _warned(tmp_path / "prior")
    write_ct_series(tmp_path / "current", n_slices=10, series_number=2)
    out = tmp_path / "c.png"
    args = ["compare", str(tmp_path / "prior"), str(tmp_path / "current"), "--no-register"]
    assert main([*args, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if "warning: prior" in ln]) == 2
    with Image.open(out) as im:
        assert im.text["Warning"] == "\n".join(f"prior: {w}" for w in recorded)
