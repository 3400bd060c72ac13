"""The NIfTI exporter plugin: registration, header codes, 2D and RGB images."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ownscan.core import SeriesInfo, Volume
from ownscan.core.plugin_host import PluginHost
from ownscan.plugins.nifti import NiftiExporter


def test_registered_through_entry_point() -> None:
    host = PluginHost()
    exp = host.exporter("nifti")
    assert isinstance(exp, NiftiExporter) and exp.writes_folder


def _volume(shape: tuple[int, ...], dtype: type = np.int16) -> Volume:
    rng = np.random.default_rng(0)
    vox = rng.integers(-1000, 1000, size=shape).astype(dtype)
    c, s = np.cos(0.3), np.sin(0.3)
    direction = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return Volume(
        vox,
        spacing=(0.5, 0.75, 2.0),
        origin=(10.0, -20.0, 30.0),
        direction=direction,
        modality="CT",
        units="HU",
        info=SeriesInfo(series_number=3, series_description="chest/abd"),
    )


def test_affine_codes_and_values(tmp_path: Path) -> None:
    vol = _volume((5, 6, 7))
    (path,) = NiftiExporter().export([vol], tmp_path, {"uncompressed": True})
    assert path.name == "3_chest_abd.nii"
    img = nib.load(path)
    hdr = img.header
    assert int(hdr["sform_code"]) == 1 and int(hdr["qform_code"]) == 1
    np.testing.assert_allclose(img.get_sform(), vol.affine_ras, atol=1e-5)
    np.testing.assert_allclose(img.get_qform(), vol.affine_ras, atol=1e-4)
    assert img.get_data_dtype() == np.int16
    data = np.asarray(img.dataobj)
    assert data.shape == (7, 6, 5)
    np.testing.assert_array_equal(data, vol.voxels.T)
    # voxel (i, j, k) = (1, 2, 3) is at the same RAS point both ways
    ras = img.affine @ [1, 2, 3, 1]
    lps = vol.index_to_lps([1, 2, 3])
    np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-4)


def test_2d_and_rgb_and_names(tmp_path: Path) -> None:
    flat = _volume((1, 6, 7))
    rgb = Volume(np.arange(1 * 4 * 5 * 3, dtype=np.uint8).reshape(1, 4, 5, 3))
    paths = NiftiExporter().export([flat, flat, rgb], tmp_path, {})
    assert [p.name for p in paths] == [
        "3_chest_abd.nii.gz",
        "3_chest_abd_2.nii.gz",
        "series.nii.gz",
    ]
    assert nib.load(paths[0]).shape == (7, 6, 1)
    img = nib.load(paths[2])
    assert img.shape == (5, 4, 1) and img.get_data_dtype().names == ("R", "G", "B")
    arr = np.asarray(img.dataobj)
    assert arr["G"][1, 0, 0] == rgb.voxels[0, 0, 1, 1]
