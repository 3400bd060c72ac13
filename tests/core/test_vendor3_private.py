"""Vendors' private blocks where an archive or an anonymiser moved them.

Philips' MR Scale Slope lives in the private block of "Philips MR Imaging DD 001", normally
(2005,0010) and so (2005,100E); a file whose block sits at (2005,0011) carries it as
(2005,110E). ``export --philips-float`` used to write display values for such a file without
a word (its ``descrip`` saying so); it now finds the block by its creator, as dcm2niix does,
and writes dcm2niix's ``-p y`` values. The header scanner leaves such files to pydicom.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import pydicom
import pytest
from fourdgen import write_4d_series
from niicompare import compare, dcm2niix, ownscan_export

from ownscan.core import assemble


def _relocated_philips(ds: pydicom.Dataset, v: int, z: int) -> None:
    ds.Manufacturer = "Philips Medical Systems"
    ds.RescaleSlope, ds.RescaleIntercept = 2.5, 10.0
    # another Philips block first, so that DD 001 lands at (2005,0011)
    ds.private_block(0x2005, "Philips MR Imaging DD 005", create=True).add_new(0x01, "LO", "x")
    block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    block.add_new(0x0D, "FL", -3.0)  # MR Scale Intercept
    block.add_new(0x0E, "FL", 0.04)  # MR Scale Slope


@pytest.mark.parametrize("fp", [False, True], ids=["display", "philips_float"])
def test_philips_scale_in_a_moved_block(fp: bool, tmp_path: Path) -> None:
    write_4d_series(
        tmp_path / "in", n_vols=1, manufacturer="Philips", per_volume=_relocated_philips
    )
    first = pydicom.dcmread(sorted((tmp_path / "in").glob("*.dcm"))[0])
    assert first[0x2005, 0x0011].value == "Philips MR Imaging DD 001"
    assert (0x2005, 0x110E) in first
    (s,) = assemble(tmp_path / "in").series
    assert s.load().extra.get("philips_fp_scale"), "the scale slope was not found"
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours", *(["--philips-float"] if fp else []))
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs", "-p", "y" if fp else "n")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0], exact=False)
    desc = bytes(nib.load(ours[0]).header["descrip"])
    assert (b"Philips FP scaling" in desc) == fp
