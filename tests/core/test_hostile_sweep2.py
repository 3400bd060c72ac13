"""The second hostile sweep over DICOM content: enhanced multi-frame files whose functional
groups disagree with themselves (tests/core/hostilegen2.py), through ``info`` and ``import``
as subprocesses under a memory cap (tests/core/hostile.py) and through the reader.

Two bugs these found (each test fails on the code before its fix):

* a frame of an enhanced CT without its per-frame Pixel Value Transformation, the others
  with intercept -1024, was read unrescaled without a word: one slice 1024 HU brighter than
  its neighbours, a bright slab in every picture. It now takes the others' rescale when they
  all agree (as dcm2niix, which reads the first frame's for all) and says so; when they
  differ it stays unrescaled and says so;
* a Rescale Slope of -1e-300 (or any that float32 holds as 0) passed the slope-0 check,
  became 0 in the decoder's float32 arithmetic, and numpy's "invalid value encountered in
  divide" reached the terminal; it is now the slope-0 case: used 1, said."""

from __future__ import annotations

import re
import sqlite3
import warnings
from pathlib import Path

import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped
from hostilegen2 import VARIANTS, enhanced_base, make, name_of_unknown_vr, swallowing_private

from ownscan.core.assembly import assemble


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return enhanced_base(tmp_path_factory.mktemp("enh"))


def _minima(path: Path) -> tuple[list[int], list[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        series = assemble(path).series
        assert len(series) == 1
        vox = series[0].load().voxels
    return [int(vox[k].min()) for k in range(vox.shape[0])], list(series[0].warnings)


def test_a_frame_without_its_rescale_takes_the_others_and_says_so(
    base: Path, tmp_path: Path
) -> None:
    good, said = _minima(base)
    assert not said
    bad = make(base, "rescale-missing-on-frame-2", tmp_path / "rescale.dcm")
    got, said = _minima(bad)
    assert got == good  # frame 2 as its neighbours: rescaled by -1024, not left 1024 HU up
    assert any("frame 2" in w and "no rescale" in w and "-1024" in w for w in said), said


def test_a_frame_without_its_rescale_among_differing_ones_is_said(
    base: Path, tmp_path: Path
) -> None:
    bad = make(base, "rescale-missing-others-differ", tmp_path / "differ.dcm")
    _, said = _minima(bad)
    assert any("no rescale" in w and "may be off" in w for w in said), said


@pytest.mark.parametrize("name", ["slope-denormal", "slope-below-float32"])
def test_a_slope_float32_holds_as_zero_is_the_zero_case(
    base: Path, tmp_path: Path, name: str
) -> None:
    bad = make(base, name, tmp_path / f"{name}.dcm")
    got, said = _minima(bad)  # no RuntimeWarning (an error here)
    good, _ = _minima(base)
    assert got[1] == good[1]
    assert any("cannot be true" in w and "used 1" in w for w in said), said
    r = capped("render", str(bad), "-o", str(tmp_path / "a.png"), "--size", "32x32")
    assert_handled(r)
    assert "RuntimeWarning" not in r.stderr and "invalid value" not in r.stderr, r.stderr


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_info_and_import_name_the_file(base: Path, tmp_path: Path, name: str) -> None:
    bad = make(base, name, tmp_path / f"{name}.dcm")
    info = capped("info", str(bad))
    assert_handled(info)
    imp = capped("import", str(bad), "--library", str(tmp_path / "lib"))
    assert_handled(imp)
    out = imp.stdout + imp.stderr
    assert f"{name}.dcm" in out and "warning" in out, out


def _files(lib: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in (lib / "objects").rglob("*") if p.is_file()}


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("length", [0x7FFFFFFE, 0x80000000])
def test_a_private_element_that_swallows_the_pixels_is_a_cut_file(
    tmp_path: Path, implicit: bool, length: int
) -> None:
    """Before: pydicom took the 2 GiB value short without a word, the file was "DICOM
    without an image" to ``info`` and imported without a warning, an image the library could
    never show. Now it is the file cut short that it is, in both, and the library untouched."""
    good = write_ct_series(tmp_path / "good", n_slices=4, rows=16, cols=16, implicit=implicit)
    bad = swallowing_private(
        good[1], tmp_path / "good" / "swallow.dcm", implicit=implicit, length=length
    )
    good[1].unlink()
    lib = tmp_path / "lib"
    assert capped("import", str(good[0]), "--library", str(lib)).returncode == 0
    before = _files(lib)
    info = capped("info", str(tmp_path / "good"))
    assert_handled(info)
    said = info.stdout + info.stderr
    assert "swallow.dcm: file truncated" in said and f"declares {length} bytes" in said, said
    assert "3 image(s)" in info.stdout  # the good neighbours, a series with a gap
    imp = capped("import", str(bad), "--library", str(lib))
    assert_handled(imp)
    out = imp.stdout + imp.stderr
    assert imp.returncode == 1 and "failed" in out and "file truncated" in out, out
    assert _files(lib) == before


def test_a_name_of_a_vr_no_reader_knows_loses_the_name_not_the_image(tmp_path: Path) -> None:
    """Before: ``info`` showed the image (``(no name)``) but ``import`` refused the file whole
    (pydicom's NotImplementedError converting the name for the index)."""
    good = write_ct_series(tmp_path / "in", n_slices=3, rows=16, cols=16)
    name_of_unknown_vr(good[1], good[1])
    lib = tmp_path / "lib"
    imp = capped("import", str(tmp_path / "in"), "--library", str(lib))
    assert_handled(imp)
    out = imp.stdout + imp.stderr
    assert imp.returncode == 0 and "3 imported" in out, out
    with sqlite3.connect(lib / "index.sqlite") as con:
        assert con.execute("SELECT count(*) FROM instances").fetchone()[0] == 3
    listing = capped("list", "--library", str(lib))
    assert_handled(listing)
    assert re.search(r"generated CT +3 ", listing.stdout), listing.stdout  # one series whole
