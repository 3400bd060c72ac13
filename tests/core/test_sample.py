"""The bundled sample: shipped as package data, real geometry, readable by dcm2niix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from niicompare import compare, dcm2niix, ownscan_export

from ownscan.core import assemble, load_volume, sample_path


def test_sample_is_package_data_with_licence() -> None:
    folder = sample_path()
    assert (folder / "LICENSE").read_text(encoding="utf-8-sig").count("PDDL") >= 1
    assert "make_sample.py" in (folder / "PROVENANCE.md").read_text()
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 192
    assert sum(f.stat().st_size for f in files) < 8 * 1024 * 1024


def test_sample_matches_dcm2niix(tmp_path: Path) -> None:
    ours = ownscan_export(sample_path(), tmp_path / "ours")
    theirs = dcm2niix(sample_path(), tmp_path / "dcm2niix")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])


def test_sample_geometry_is_the_originals_2x2x2_mean(mr_head_dir: Path) -> None:
    """Each sample voxel is the mean of a 2x2x2 block of the original, at the block's centre."""
    orig = load_volume(mr_head_dir)
    found = assemble(sample_path())
    assert [s.kind for s in found.series] == ["volume"] and not found.errors
    sample = found.series[0].load()
    assert sample.info.series_description.endswith("(2x2x2 mean)")
    z, y, x = sample.shape
    block = orig.voxels[: 2 * z, : 2 * y, : 2 * x].astype(np.float64)
    mean = block.reshape(z, 2, y, 2, x, 2).mean(axis=(1, 3, 5))
    expect = np.sign(mean) * np.floor(np.abs(mean) + 0.5)
    np.testing.assert_array_equal(sample.voxels, expect.astype(np.int16))
    # voxel (i, j, k) of the sample sits at original index (2i + 0.5, 2j + 0.5, 2k + 0.5)
    scale = np.diag([2.0, 2.0, 2.0, 1.0])
    scale[:3, 3] = 0.5
    np.testing.assert_allclose(sample.affine, orig.affine @ scale, atol=1e-3)
