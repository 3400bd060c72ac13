"""Enhanced multi-frame 4D ordered by the Dimension Index Sequence and each frame's
DimensionIndexValues (stack, in-stack position, temporal position), against dcm2niix on the
same files; and ``info --json`` showing the 4th dimension of every class of 4D series."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fourdgen import voxel_value
from mfgen import enhanced_mr_4d
from niicompare import compare, dcm2niix, ownscan_export

from ownscan.core import assemble


@pytest.mark.parametrize("temporal_attribute", [True, False], ids=["with_index", "index_only"])
def test_enhanced_4d_by_dimension_index_like_dcm2niix(
    temporal_attribute: bool, tmp_path: Path
) -> None:
    """Frames stored shuffled; the volume is what the Temporal Position Index dimension says
    (with or without the attribute itself in the Frame Content)."""
    enhanced_mr_4d(tmp_path / "in" / "e.dcm", n_vols=3, temporal_attribute=temporal_attribute)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_volumes == 3 and s.shape == (4, 12, 10)
    assert s.dimension is not None and s.dimension.name == "time"
    assert s.dimension.source == "DimensionIndexValues (StackID, TemporalPositionIndex)"
    assert not any("nothing but" in w for w in s.warnings), s.warnings
    for k in range(3):
        vol = s.load(volume=k)
        for z in range(4):
            np.testing.assert_array_equal(vol.voxels[z], voxel_value(k, z, 12, 10))
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    assert nib.load(ours[0]).shape == nib.load(theirs[0]).shape == (10, 12, 4, 3)
    compare(ours[0], theirs[0])
    assert float(nib.load(ours[0]).header.get_zooms()[3]) == pytest.approx(2.0)  # TR (s)


def test_two_stacks_of_one_file_are_two_series(tmp_path: Path) -> None:
    """Two stacks (Stack ID 1 and 2, 40 mm apart) of 3 volumes each: two 4D series, each
    what dcm2niix makes of a file holding that stack alone (dcm2niix itself stacks both
    stacks' volumes into one 4D file of 6 volumes, which puts stack 2 where stack 1 is)."""
    enhanced_mr_4d(tmp_path / "in" / "e.dcm", n_vols=3, stacks=(0, 1))
    found = assemble(tmp_path / "in")
    assert len(found.series) == 2
    assert all(s.n_volumes == 3 and s.shape == (4, 12, 10) for s in found.series)
    assert all(any("StackID" in w for w in s.warnings) for s in found.series)
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    assert len(ours) == 2
    for stack in (0, 1):
        enhanced_mr_4d(tmp_path / f"only{stack}" / "e.dcm", n_vols=3, stacks=(stack,))
        (theirs,) = dcm2niix(tmp_path / f"only{stack}", tmp_path / f"theirs{stack}")
        z0 = nib.load(theirs).affine[2, 3]
        (mine,) = [p for p in ours if abs(nib.load(p).affine[2, 3] - z0) < 0.01]
        compare(mine, theirs)


def _series_json(folder: Path, capsys: pytest.CaptureFixture) -> list[dict]:
    from ownscan.core.cli import main

    assert main(["info", str(folder), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["series"]


@pytest.mark.parametrize(
    ("kind", "name", "values"),
    [
        ("temporal", "time", [0.0, 2.0, 4.0]),
        ("trigger", "cardiac phase", [0.0, 40.0, 80.0]),
        ("acquisition_time", "time", [0.0, 2.0, 4.0]),
        ("acquisition_number", "acquisition", [0.0, 2.0, 4.0]),
        ("diffusion", "diffusion", [0.0, 0.0, 1000.0]),
        ("diffusion_private", "diffusion", [0.0, 0.0, 1000.0]),
    ],
)
def test_info_json_shows_the_fourth_dimension_of_each_class(
    kind: str, name: str, values: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from test_4d import _write

    _write(kind, tmp_path / "in", n_vols=3)
    (got,) = _series_json(tmp_path / "in", capsys)
    assert got["n_volumes"] == 3 and got["n_images"] == 15 and got["shape_zyx"] == [5, 12, 10]
    dim = got["dimension"]
    assert dim["name"] == name and dim["values"] == pytest.approx(values)
    assert ("b_values" in dim) == (name == "diffusion")


def test_info_json_of_enhanced_and_mosaic_4d(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import gzip

    enhanced_mr_4d(tmp_path / "enh" / "e.dcm", n_vols=3)
    (got,) = _series_json(tmp_path / "enh", capsys)
    assert got["n_volumes"] == 3 and got["dimension"]["name"] == "time"
    assert got["dimension"]["source"].startswith("DimensionIndexValues")
    data = Path(nib.__file__).parent / "nicom" / "tests" / "data"
    (tmp_path / "mosaic").mkdir()
    for f in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        (tmp_path / "mosaic" / f[:-3]).write_bytes(gzip.decompress((data / f).read_bytes()))
    (got,) = _series_json(tmp_path / "mosaic", capsys)
    assert got["n_volumes"] == 2 and got["dimension"]["b_values"] == [0.0, 1000.0]
    assert len(got["slice_timing_s"]) == 48
