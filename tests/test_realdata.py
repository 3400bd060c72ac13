"""The tests' own real data (tests/realdata.py): found locally, restored exactly, damage refused."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pydicom
import pytest
from realdata import MR_HEAD_DATA, PYDICOM_FILES, pydicom_file, restore_mr_head


def _package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    return Path(spec.origin).parent


def test_pydicom_files_come_from_the_installed_packages(pydicom_files: dict[str, Path]) -> None:
    # pydicom's own test_files or the pydicom-data package (module data_store), never its
    # download cache: the files exist without a network
    installed = (_package_folder("pydicom"), _package_folder("data_store"))
    assert list(pydicom_files) == list(PYDICOM_FILES)
    for name, path in pydicom_files.items():
        assert path.name == name and path.is_file()
        assert any(path.is_relative_to(folder) for folder in installed), path


def test_a_pydicom_file_that_is_not_installed_is_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"'no-such-file\.dcm' not installed"):
        pydicom_file("no-such-file.dcm")


def test_the_restored_head_mr_is_the_published_series(mr_head_dir: Path) -> None:
    # byte identity is checked by restore_mr_head against the originals' SHA-256 (SHA256SUMS);
    # here: that folder holds exactly those files, and they are the series the tests expect
    names = [line.split()[1] for line in (MR_HEAD_DATA / "SHA256SUMS").read_text().splitlines()]
    files = sorted(mr_head_dir.iterdir())
    assert [p.name for p in files] == names and len(names) == 384
    first, last = (pydicom.dcmread(files[i]) for i in (0, -1))
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian
    assert (first.Modality, first.SeriesDescription, first.Rows, first.Columns) == (
        "MR",
        "anat-T1w",
        384,
        274,
    )
    assert first.SeriesInstanceUID == last.SeriesInstanceUID
    assert first.pixel_array.max() > 0 and last.pixel_array.shape == (384, 274)


def test_a_damaged_copy_is_refused_naming_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MR_HEAD_DATA, data)
    sums = (data / "SHA256SUMS").read_text().splitlines()
    digest, name = sums[7].split()
    sums[7] = f"{'0' if digest[0] != '0' else '1'}{digest[1:]}  {name}"
    (data / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    with pytest.raises(RuntimeError, match=f"restored {name} differs from the original"):
        restore_mr_head(tmp_path / "out", data)

    (data / "pixels-jpegls.dcm").write_bytes(b"not DICOM")
    with pytest.raises(RuntimeError, match=r"gdcmconv --raw .*pixels-jpegls\.dcm failed"):
        restore_mr_head(tmp_path / "out2", data)
