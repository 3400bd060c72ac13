"""The NIfTI exporter plugin: registration, header codes, 2D and RGB images, the output file
(unnamed until complete, never overwriting)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from ownscan.core import SeriesInfo, Volume
from ownscan.core.files import PartFile
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


# -- the output file: unnamed until complete, never overwriting ----------------------------------
def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("named", [None, ".nii.gz"], ids=["unnamed", "named"])
def test_part_file_appears_only_when_committed(tmp_path: Path, named: str | None) -> None:
    with PartFile(tmp_path, named=named) as part:
        part.write(b"0123456789", 0)
        part.write(b"ab", 4)
        if named is None:
            assert _visible(tmp_path) == []  # O_TMPFILE: no name at all
        else:
            assert part.path is not None and part.path.name.startswith(".")
            assert part.path.name.endswith(".nii.gz")  # nibabel picks the format by suffix
        (tmp_path / "taken.nii").write_bytes(b"keep me")
        names = iter(["taken.nii", "free.nii"])
        final = part.commit(lambda: tmp_path / next(names))
    assert final == tmp_path / "free.nii"
    assert (tmp_path / "taken.nii").read_bytes() == b"keep me"  # never overwritten
    assert final.read_bytes() == b"0123ab6789"
    assert _visible(tmp_path) == ["free.nii", "taken.nii"]
    # permissions are those open(path, "wb") gives
    (tmp_path / "plain").write_bytes(b"")
    assert final.stat().st_mode == (tmp_path / "plain").stat().st_mode


@pytest.mark.parametrize("named", [None, ".nii"], ids=["unnamed", "named"])
def test_part_file_discarded_leaves_nothing(tmp_path: Path, named: str | None) -> None:
    with pytest.raises(KeyboardInterrupt), PartFile(tmp_path, named=named) as part:
        part.write(b"x" * 1000, 0)
        raise KeyboardInterrupt
    assert _visible(tmp_path) == []


def test_killed_writer_leaves_no_file_under_a_final_name(tmp_path: Path) -> None:
    """SIGKILL in the middle of writing an unnamed part file: the folder stays empty."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from ownscan.core.files import PartFile\n"
        "part = PartFile(Path(sys.argv[1]))\n"
        "part.write(b'x' * 1_000_000, 352)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    assert r.returncode == -signal.SIGKILL
    assert _visible(tmp_path) == []


@pytest.mark.parametrize("uncompressed", [True, False], ids=["nii-decoded-into-file", "nii.gz"])
def test_json_sidecar_agrees_with_dcm2niix(tmp_path: Path, uncompressed: bool) -> None:
    """``--json``: the fields ownscan's sidecar shares with dcm2niix's ``-b y`` one are equal."""
    import json
    import shutil
    import subprocess

    from export_data import write_ct_series

    from ownscan.core.cli import main

    write_ct_series(tmp_path / "in", n_slices=5, iop=(0.9659258, 0.258819, 0, 0, 0, -1),
                    description="oblique scout")  # fmt: skip
    args = ["export", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--json"]
    assert main(args + (["--uncompressed"] if uncompressed else [])) == 0
    (side,) = (tmp_path / "o").glob("*.json")
    (nii,) = (tmp_path / "o").glob("*.nii*")
    assert side.name.removesuffix(".json") == nii.name.removesuffix(".gz").removesuffix(".nii")
    ours = json.loads(side.read_text())
    exe = shutil.which("dcm2niix")
    assert exe, "dcm2niix is not installed"
    cmd = [exe, "-b", "y", "-z", "n", "-f", "ref", "-o", str(tmp_path), str(tmp_path / "in")]
    subprocess.run(cmd, check=True, capture_output=True)
    theirs = json.loads((tmp_path / "ref.json").read_text())
    for key in ("Modality", "SeriesDescription", "SeriesNumber"):
        assert ours[key] == theirs[key], key
    assert ours["Manufacturer"] == "ownscan tests"  # dcm2niix names only vendors it knows
    np.testing.assert_allclose(
        ours["ImageOrientationPatientDICOM"], theirs["ImageOrientationPatientDICOM"], atol=1e-6
    )
    assert not {"PatientName", "PatientID", "PatientBirthDate"} & set(ours)
