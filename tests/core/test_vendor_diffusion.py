"""Diffusion series whose b-values and directions are only in GE's or Philips' private tags
(no (0018,9087)/(0018,9089)): volumes, .bval and .bvec against dcm2niix on the same files."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fourdgen import diffusion_table, voxel_value, write_4d_series
from niicompare import compare, dcm2niix, ownscan_export, world_bvecs

from ownscan.core import assemble

_OBLIQUE = (0.9848, 0.0, -0.1736, 0.0302, 0.9848, 0.1710)
_AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

# b = 0 twice, then unit directions along each axis and oblique ones (fourdgen's table)
_TABLE = [
    *diffusion_table(3),
    (1000.0, (1.0, 0.0, 0.0)),
    (1000.0, (0.0, 1.0, 0.0)),
    (1000.0, (0.0, 0.0, 1.0)),
    *diffusion_table(4)[1:2],
]


def _ge(pe: str | None):
    """GE's private tags: (0043,1039) b-value with GE's 10^9 flag, (0019,10BB/BC/BD) the
    direction (the same numbers, whatever frame GE means them in)."""

    def set_it(ds, v: int, z: int) -> None:
        b, g = _TABLE[v]
        ds.Manufacturer = "GE MEDICAL SYSTEMS"
        if pe is not None:
            ds.InPlanePhaseEncodingDirection = pe
        acq = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
        for el, x in zip((0xBB, 0xBC, 0xBD), g, strict=True):
            acq.add_new(el, "DS", f"{x:.6f}")
        parm = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
        parm.add_new(0x39, "IS", [str(1_000_000_000 + int(b)), "8", "0", "0"])

    return set_it


def _philips(ds, v: int, z: int) -> None:
    """Philips' private tags: (2001,1003) b-value, (2001,1004) direction label,
    (2005,10B0/B1/B2) the direction."""
    b, g = _TABLE[v]
    ds.Manufacturer = "Philips Medical Systems"
    img = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
    img.add_new(0x03, "FL", float(b))
    img.add_new(0x04, "CS", "O" if b else "I")
    mr = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    for el, x in zip((0xB0, 0xB1, 0xB2), g, strict=True):
        mr.add_new(el, "FL", float(x))


CASES = {
    "ge_col": _ge("COL"),
    "ge_row": _ge("ROW"),
    "ge_no_phase_direction": _ge(None),
    "philips": _philips,
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("iop", [_AXIAL, _OBLIQUE], ids=["axial", "oblique"])
def test_private_diffusion_like_dcm2niix(case: str, iop: tuple, tmp_path: Path) -> None:
    n = len(_TABLE)
    write_4d_series(tmp_path / "in", n_vols=n, iop=iop, per_volume=CASES[case])
    (s,) = assemble(tmp_path / "in").series
    assert s.n_volumes == n and s.dimension is not None and s.dimension.name == "diffusion"
    assert list(s.dimension.b_values) == [b for b, _ in _TABLE]
    no_pe = any("In-plane Phase Encoding Direction" in w for w in s.warnings)
    assert no_pe == (case == "ge_no_phase_direction"), s.warnings
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])
    bval = [np.loadtxt(p.with_suffix(".bval")).tolist() for p in (ours[0], theirs[0])]
    assert bval[0] == bval[1] == [b for b, _ in _TABLE]
    np.testing.assert_allclose(world_bvecs(ours[0]), world_bvecs(theirs[0]), atol=2e-4)
    assert nib.load(ours[0]).shape[3] == n


def test_philips_directions_are_in_the_patient(tmp_path: Path) -> None:
    """Philips' (2005,10B0/B1/B2) are LPS: on an oblique slice the stored direction is the
    Dimension's LPS b-vector unchanged (and the .bvec is that in the image's axes)."""
    write_4d_series(tmp_path / "in", n_vols=len(_TABLE), iop=_OBLIQUE, per_volume=_philips)
    (s,) = assemble(tmp_path / "in").series
    assert s.dimension is not None
    np.testing.assert_allclose(s.dimension.b_vectors, [g for _, g in _TABLE], atol=1e-6)


def test_ge_directions_are_in_the_image_frame(tmp_path: Path) -> None:
    """GE's (0019,10BB/BC/BD) with phase encoding along the columns: x along minus the row
    direction, y along minus the column direction, z along the slice normal."""
    write_4d_series(tmp_path / "in", n_vols=len(_TABLE), iop=_OBLIQUE, per_volume=_ge("COL"))
    (s,) = assemble(tmp_path / "in").series
    assert s.dimension is not None
    r, c = np.array(_OBLIQUE[:3]), np.array(_OBLIQUE[3:])
    n = np.cross(r, c)
    for (_, g), got in zip(_TABLE, s.dimension.b_vectors, strict=True):
        want = -g[0] * r - g[1] * c + g[2] * n
        if np.linalg.norm(want) > 0:
            want = want / np.linalg.norm(want)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_philips_trace_volume_is_kept_apart_like_dcm2niix(tmp_path: Path) -> None:
    """Philips exports the isotropic (trace) image, b 1000 without a direction (label I),
    with the directional ones: it would put a b > 0 without a vector in the .bvec, so it is
    a series of its own (TRACEW), and the DWI equals dcm2niix's, which removes it."""
    table = [*_TABLE, (1000.0, (0.0, 0.0, 0.0))]

    def philips(ds, v: int, z: int) -> None:
        b, g = table[v]
        ds.Manufacturer = "Philips Medical Systems"
        img = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
        img.add_new(0x03, "FL", b)
        img.add_new(0x04, "CS", "I" if not any(g) else "O")
        mr = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
        for el, x in zip((0xB0, 0xB1, 0xB2), g, strict=True):
            mr.add_new(el, "FL", x)

    n = len(table)
    write_4d_series(tmp_path / "in", n_vols=n, iop=_OBLIQUE, per_volume=philips)
    dwi, trace = assemble(tmp_path / "in").series
    assert (dwi.label, trace.label) == ("7 fmri", "7 fmri TRACEW")
    assert dwi.n_volumes == n - 1 and trace.n_volumes == 1
    assert all(any("isotropic (trace)" in w for w in s.warnings) for s in (dwi, trace))
    np.testing.assert_array_equal(trace.load().voxels[2], voxel_value(n - 1, 2, 12, 10))
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = [p for p in dcm2niix(tmp_path / "in", tmp_path / "theirs") if "_ADC" not in p.name]
    assert [p.name for p in ours] == ["7_fmri.nii", "7_fmri_TRACEW.nii"] and len(theirs) == 1
    compare(ours[0], theirs[0])
    bval = [np.loadtxt(p.with_suffix(".bval")).tolist() for p in (ours[0], theirs[0])]
    assert bval[0] == bval[1] == [b for b, _ in _TABLE]
    np.testing.assert_allclose(world_bvecs(ours[0]), world_bvecs(theirs[0]), atol=2e-4)
