"""Fixtures every test folder uses: the project's own real DICOM data (see tests/realdata.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from realdata import PYDICOM_FILES, pydicom_file, restore_mr_head


@pytest.fixture(scope="session")
def pydicom_files() -> dict[str, Path]:
    """pydicom's real test files (installed ``pydicom-data``), by name. Missing ones fail."""
    return {name: pydicom_file(name) for name in PYDICOM_FILES}


@pytest.fixture(scope="session")
def mr_head_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real oblique head MR series: 384 single-frame images, read-only.

    Restored once per session from tests/data/studyforrest-t1w, byte for byte (each file is
    checked against the original's SHA-256), so the folder holds exactly the published files.
    """
    return restore_mr_head(tmp_path_factory.mktemp("studyforrest-t1w") / "dicoms")
