"""Fixtures every test folder uses: where the shared real DICOM data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    """../shared/data beside the repository (CI's layout), or OWNSCAN_SHARED_DATA."""
    candidates = [
        os.environ.get("OWNSCAN_SHARED_DATA"),
        REPO.parent / "shared" / "data",
        "/work/shared/data",  # helpers' worktrees sit one level deeper than the main clone
    ]
    for c in candidates:
        if c and (Path(c) / "studyforrest-t1w").is_dir():
            return Path(c)
    raise RuntimeError(
        "shared test data not found: set OWNSCAN_SHARED_DATA or place shared/data beside the repo"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real DICOM from public sources (read-only). Missing data fails the test, never skips."""
    return _shared_data()


@pytest.fixture(scope="session")
def mr_head_dir(shared_data: Path) -> Path:
    """The real oblique head MR series: 384 single-frame images."""
    return shared_data / "studyforrest-t1w" / "dicoms"
