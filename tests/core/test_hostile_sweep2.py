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

import warnings
from pathlib import Path

import pytest
from hostile import assert_handled, capped
from hostilegen2 import VARIANTS, enhanced_base, make

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
