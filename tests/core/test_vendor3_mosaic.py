"""Siemens mosaics whose headers an anonymiser or archive changed (the two real DWI mosaics
nibabel ships, edited), against dcm2niix, which unpacks all of them.

* **ImageType without MOSAIC**: the file was read as one 896x896 image holding 48 tiles,
  placed in 3D as a single slice. Siemens' own NumberOfImagesInMosaic (0019,100A) now makes
  it a mosaic whatever ImageType says, as in dcm2niix.
* **CSA header removed, (0019,100A) kept**: the file was refused. It is now cut by
  (0019,100A), its slices along row x column, with a warning that the direction may be
  reversed (the CSA SliceNormalVector is what says it).
* **Neither**: one line naming the file, never a flat image.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from niicompare import compare, dcm2niix, ownscan_export
from test_4d import _nibabel_mosaics

from ownscan.core import assemble


def _edit(files: list[Path], drop: tuple[int, ...] = (), keep_mosaic_type: bool = True) -> None:
    for f in files:
        ds = pydicom.dcmread(f)
        for tag in drop:
            del ds[tag]
        if not keep_mosaic_type:
            ds.ImageType = [v for v in ds.ImageType if v != "MOSAIC"]
        ds.save_as(f)


CASES = {
    "no-mosaic-in-image-type": ((), False, False),
    "no-csa-header": ((0x00291010, 0x00291020), True, True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_edited_mosaics_are_unpacked_like_dcm2niix(name: str, tmp_path: Path) -> None:
    drop, keep_type, doubt = CASES[name]
    files = _nibabel_mosaics(tmp_path / "in")
    _edit(files, drop, keep_type)
    found = assemble(tmp_path / "in")
    assert not found.errors, found.errors
    (s,) = found.series
    assert s.n_volumes == 2 and s.shape == (48, 128, 128) and s.n_images == 96
    assert any("may be reversed" in w for w in s.warnings) == doubt, s.warnings
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])


def test_mosaic_without_any_count_is_one_line(tmp_path: Path) -> None:
    files = _nibabel_mosaics(tmp_path / "in")
    _edit(files, (0x00291010, 0x00291020, 0x0019100A))
    found = assemble(tmp_path / "in")
    assert not found.series and len(found.errors) == 2
    for problem in found.errors:
        assert "NumberOfImagesInMosaic" in str(problem) and "siemens_dwi_" in str(problem)
