"""Fixtures of the DICOMweb tests: a real Orthanc with its DICOMweb plugin, and its data.

``orthanc`` (session): Orthanc on a free loopback port with a temporary storage and
authentication on, loaded with ``dw_data``; stopped by its pid at the end (also on failure).
See dicomweb_server.py.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dicomweb_server import PASSWORD, USER, DwData, Orthanc, write_ct_series
from pydicom.uid import generate_uid


@pytest.fixture(scope="session")
def dw_data(tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path) -> DwData:
    root = tmp_path_factory.mktemp("dw_data")
    study_a, study_c = generate_uid(), generate_uid()
    write_ct_series(root / "ct" / "axial", 12, study=study_a, seed=1)
    write_ct_series(
        root / "ct" / "bone", 6, study=study_a, series_number=3, description="Bone", seed=2
    )
    raw = write_ct_series(
        root / "raw_j2k", 5, study=study_a, series_number=4, description="J2K", seed=3
    )
    gdcmconv = shutil.which("gdcmconv")
    if gdcmconv is None:
        pytest.fail("gdcmconv is not installed (Debian package libgdcm-tools)")
    j2k = root / "ct_j2k"
    j2k.mkdir()
    for f in raw:
        subprocess.run([gdcmconv, "--j2k", str(f), str(j2k / f.name)], check=True)
    shutil.rmtree(root / "raw_j2k")
    write_ct_series(
        root / "older", 4, study=study_c, date="20190601", series_number=5, seed=4, size=16
    )
    mr = root / "mr"
    mr.mkdir()
    for f in sorted(mr_head_dir.glob("*.dcm"))[180:192]:
        shutil.copy(f, mr / f.name)
    return DwData(root, root / "ct", j2k, mr, root / "older", study_a, study_c)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory, dw_data: DwData) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("orthanc"))
    server.start()
    try:
        server.upload(dw_data.all_files())
        yield server
    finally:
        server.stop()


@pytest.fixture
def dw_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The right credentials in the environment (and nothing else that could interfere)."""
    for k in ("OWNSCAN_DICOMWEB_TOKEN", "OWNSCAN_LIBRARY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OWNSCAN_DICOMWEB_USER", USER)
    monkeypatch.setenv("OWNSCAN_DICOMWEB_PASSWORD", PASSWORD)
