"""Importing through DICOMweb from a real Orthanc gives what a direct import of the files gives.

Every test here talks to the session's Orthanc (see conftest.py); the fault tests start their
own server so that stopping it disturbs nobody.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomweb_server import (
    CREDS,
    HTTP_PORTS,
    PASSWORD,
    USER,
    DwData,
    Orthanc,
    free_port,
    kill_after_lua,
    run_ownscan,
)

from ownscan.core.library import open_library
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.dicomweb import DicomwebError, DicomwebImporter, RetrievalSummary, connect


def library_instances(lib_dir: Path) -> dict[str, tuple[str, str, str]]:
    """SOP Instance UID -> (sha256 of the stored file, series UID, origin)."""
    out = {}
    with open_library(lib_dir, create=False) as lib:
        for s in lib.series():
            for inst in lib.instances(s.series_uid):
                data = Path(inst.path).read_bytes()
                out[inst.sop_instance_uid] = (
                    hashlib.sha256(data).hexdigest(),
                    s.series_uid,
                    inst.origin,
                )
    return out


def file_shas(files: list[Path]) -> dict[str, str]:
    """SOP Instance UID -> sha256 of the file as uploaded."""
    out = {}
    for f in files:
        sop = str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        out[sop] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def imported(
    tmp_path_factory: pytest.TempPathFactory, orthanc: Orthanc, dw_data: DwData
) -> tuple[Path, Path, str]:
    """The whole server imported through DICOMweb, and the same files imported directly."""
    base = tmp_path_factory.mktemp("libs")
    web, direct = base / "web", base / "direct"
    r = run_ownscan("import", orthanc.url, "--library", web, "--parallel", "3", env=CREDS)
    assert r.returncode == 0, r.stdout + r.stderr
    d = run_ownscan("import", dw_data.root, "--library", direct)
    assert d.returncode == 0, d.stdout + d.stderr
    return web, direct, r.stdout + r.stderr


def test_same_instances_same_bytes_as_direct_import(imported, dw_data, orthanc):
    web, direct, output = imported
    got, ref = library_instances(web), library_instances(direct)
    files = dw_data.all_files()
    assert len(got) == len(files) == 39
    assert got.keys() == ref.keys()
    # byte for byte: the stored file is the uploaded file (no transcoding, JPEG 2000 included)
    assert {k: v[0] for k, v in got.items()} == file_shas(files)
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in ref.items()}
    # the origin is the instance's WADO-RS URL, without credentials
    for sop, (_sha, series, origin) in got.items():
        assert origin.startswith(orthanc.url + "/studies/")
        assert origin.endswith(f"/series/{series}/instances/{sop}")
    assert "39 imported" in output
    assert output.count("complete: ") == 5 and "INCOMPLETE" not in output


def test_same_voxels_and_geometry_as_direct_import(imported):
    web, direct, _ = imported
    with open_library(web, create=False) as a, open_library(direct, create=False) as b:
        series = sorted(s.series_uid for s in a.series())
        assert series == sorted(s.series_uid for s in b.series())
        assert len(series) == 5
        for uid in series:
            va, vb = a.load_volume(uid), b.load_volume(uid)
            assert va.voxels.shape == vb.voxels.shape
            assert va.voxels.dtype == vb.voxels.dtype
            assert np.array_equal(va.voxels, vb.voxels), uid
            assert np.allclose(va.affine, vb.affine), uid


def test_rerun_fetches_nothing_again(imported, orthanc):
    web, _direct, _ = imported
    before = library_instances(web)
    r = run_ownscan("import", orthanc.url, "--library", web, env=CREDS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "39 already in the library (not fetched again)" in r.stdout
    assert "imported" not in r.stdout.replace("not fetched", "")
    assert library_instances(web) == before


def test_filters_import_only_what_was_asked(tmp_path, orthanc, dw_data):
    lib = tmp_path / "lib"
    r = run_ownscan(
        "import", orthanc.url, "--library", lib, "--patient", "P1", "--since", "2020-01-01",
        env=CREDS,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    got = library_instances(lib)
    expected = file_shas(sorted(dw_data.ct.rglob("*.dcm")) + sorted(dw_data.ct_j2k.glob("*.dcm")))
    assert {k: v[0] for k, v in got.items()} == expected  # study A only: not C (2019), not MR

    lib2 = tmp_path / "lib2"
    r = run_ownscan("import", orthanc.url, "--library", lib2, "--study", dw_data.study_c, env=CREDS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {k: v[0] for k, v in library_instances(lib2).items()} == file_shas(
        sorted(dw_data.older.glob("*.dcm"))
    )


def test_no_study_matches_is_a_clear_error(tmp_path, orthanc):
    r = run_ownscan(
        "import", orthanc.url, "--library", tmp_path / "lib", "--patient", "NOBODY", env=CREDS
    )
    assert r.returncode != 0
    assert "no study on the server matches --patient NOBODY" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_bad_filter_values_are_refused(tmp_path, orthanc):
    r = run_ownscan("import", orthanc.url, "--library", tmp_path / "l", "--since", "31.01.2024")
    assert r.returncode != 0 and "use YYYY-MM-DD" in r.stdout + r.stderr
    r = run_ownscan("import", orthanc.url, "--library", tmp_path / "l", "--parallel", "0")
    assert r.returncode != 0 and "--parallel 0 is out of range" in r.stdout + r.stderr
    r = run_ownscan("search", orthanc.url, "--study", "1.2.x")
    assert r.returncode == 2 and "is not a DICOM UID" in r.stderr
    assert "Traceback" not in r.stderr


# -- credentials ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OWNSCAN_DICOMWEB_USER": USER, "OWNSCAN_DICOMWEB_PASSWORD": "wrong-" + PASSWORD},
            "the server rejected the credentials from "
            "OWNSCAN_DICOMWEB_USER/OWNSCAN_DICOMWEB_PASSWORD (HTTP 401)",
        ),
        (
            {"OWNSCAN_DICOMWEB_TOKEN": PASSWORD},  # Orthanc knows no bearer tokens
            "the server rejected the credentials from OWNSCAN_DICOMWEB_TOKEN (HTTP 401)",
        ),
        ({}, "the server requires authentication (HTTP 401); set OWNSCAN_DICOMWEB_USER"),
    ],
    ids=["wrong-password", "unknown-token", "none"],
)
@pytest.mark.parametrize("command", ["import", "search"])
def test_credentials_refused_clear_message_no_traceback(tmp_path, orthanc, env, message, command):
    args = ["--library", tmp_path / "lib"] if command == "import" else []
    r = run_ownscan(command, orthanc.url, *args, env=env)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert message in out
    assert "Traceback" not in out
    assert PASSWORD not in out
    if command == "import":
        assert library_instances(tmp_path / "lib") == {}


def test_credentials_never_in_library_or_output(tmp_path, orthanc, dw_data):
    lib = tmp_path / "lib"
    mr_study = str(pydicom.dcmread(next(dw_data.mr.glob("*.dcm"))).StudyInstanceUID)
    r = run_ownscan("--debug", "import", orthanc.url, "--library", lib, "--study", mr_study,
                    env=CREDS)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "DEBUG" in out  # debug logging (urllib3, dicomweb-client) was on
    assert PASSWORD not in out
    needle = PASSWORD.encode()
    basic = __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode())
    files = [p for p in lib.rglob("*") if p.is_file()]
    assert len(files) > 12  # the 12 MR slices and the index
    for p in files:
        data = p.read_bytes()
        assert needle not in data and basic not in data, p


def test_credentials_in_url_are_refused(orthanc):
    url = orthanc.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    r = run_ownscan("search", url)
    assert r.returncode == 2
    assert "the URL contains credentials" in r.stderr
    assert PASSWORD not in r.stdout + r.stderr


# -- faults -----------------------------------------------------------------------------------
@pytest.fixture
def dying_orthanc(tmp_path: Path, dw_data: DwData) -> Orthanc:
    """An Orthanc of its own, holding the 12-slice axial CT series."""
    server = Orthanc(tmp_path / "orthanc")
    server.start()
    try:
        server.upload(sorted((dw_data.ct / "axial").glob("*.dcm")))
        yield server
    finally:
        server.stop()


def test_server_stopped_mid_transfer_then_rerun_resumes(tmp_path, dying_orthanc, dw_data):
    files = sorted((dw_data.ct / "axial").glob("*.dcm"))
    lib = tmp_path / "lib"
    dying_orthanc.stop()
    dying_orthanc.start(lua=kill_after_lua(5))  # ends itself at the 6th instance request
    r = run_ownscan("import", dying_orthanc.url, "--library", lib, "--parallel", "2", env=CREDS)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert dying_orthanc.wait_exit() == 3
    assert "the server stopped answering" in out
    assert "of 12 instances are in the library" in out
    assert "Run the same import again to fetch the rest" in out
    assert "INCOMPLETE: CT Axial" in out
    assert "Traceback" not in out
    first = library_instances(lib)
    assert 1 <= len(first) <= 5  # what arrived before the stop is kept

    dying_orthanc.start()  # the same storage, no filter
    again = run_ownscan("import", dying_orthanc.url, "--library", lib, env=CREDS)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert f"{12 - len(first)} imported" in out
    assert f"{len(first)} already in the library (not fetched again)" in out
    assert f"complete: CT Axial: 12 of 12 instances, {len(first)} already in the library" in out
    assert {k: v[0] for k, v in library_instances(lib).items()} == file_shas(files)


def test_outage_shorter_than_the_retries_is_survived(tmp_path, dying_orthanc, dw_data):
    """The server dies after 4 instances and is back ~1 s later: backoff retries finish the job
    in the same run."""
    dying_orthanc.stop()
    dying_orthanc.start(lua=kill_after_lua(4))
    items, errors = [], []

    def restart() -> None:
        try:
            dying_orthanc.wait_exit()
            dying_orthanc.start()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    t = threading.Thread(target=restart)
    t.start()
    importer = DicomwebImporter()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in CREDS.items():
                mp.setenv(k, v)
            summaries: list[RetrievalSummary] = []
            opts = ImportOptions(extra={"parallel": 1, "on_summary": summaries.append})
            items = list(importer.iter_items(dying_orthanc.url, opts))
    finally:
        t.join(60)
    assert not errors
    assert all(i.problem is None for i in items)
    assert len(items) == 12
    assert summaries == [importer.last_summary]
    assert summaries[0].complete and summaries[0].retrieved == 12
    assert importer.notes() == ["complete: CT Axial: 12 of 12 instances"]
    assert sorted(hashlib.sha256(i.read_bytes()).hexdigest() for i in items) == sorted(
        file_shas(sorted((dw_data.ct / "axial").glob("*.dcm"))).values()
    )


def test_server_error_is_retried_then_reported(tmp_path, dying_orthanc, dw_data):
    """A file missing from Orthanc's storage makes it answer HTTP 500 (Orthanc reads the files
    for QIDO-RS instance lists too): retried with backoff, then a clear error; with the file
    back, the same command imports everything."""
    files = sorted((dw_data.ct / "axial").glob("*.dcm"))
    stored = dying_orthanc.stored_file(sop_of(files[3]))
    aside = tmp_path / "aside.dcm"
    stored.rename(aside)
    lib = tmp_path / "lib"
    r = run_ownscan("import", dying_orthanc.url, "--library", lib, env=CREDS)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "/instances: HTTP 500 Internal Server Error (5 attempts)" in out
    assert "Traceback" not in out

    aside.rename(stored)
    again = run_ownscan("import", dying_orthanc.url, "--library", lib, env=CREDS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {k: v[0] for k, v in library_instances(lib).items()} == file_shas(files)


def test_one_instance_failing_leaves_its_series_incomplete(tmp_path, dying_orthanc, dw_data):
    """HTTP 500 for one instance during WADO-RS (its file removed after the instance lists were
    read): that instance becomes a failed item, the others arrive, the series is incomplete."""
    files = sorted((dw_data.ct / "axial").glob("*.dcm"))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in CREDS.items():
            mp.setenv(k, v)
        conn = connect(dying_orthanc.url)
        study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        series = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
        listed = conn.qido(f"studies/{study}/series/{series}/instances")
        last = listed[-1]["00080018"]["Value"][0]  # fetched last: parallel 1, 4 queued at most
        conn.close()
        importer = DicomwebImporter()
        it = importer.iter_items(dying_orthanc.url, ImportOptions(extra={"parallel": 1}))
        items = [next(it)]  # the instance lists are read; the first instance arrived
        stored = dying_orthanc.stored_file(last)
        aside = tmp_path / "aside.dcm"
        stored.rename(aside)
        try:
            items += list(it)
        finally:
            aside.rename(stored)
    problems = [i for i in items if i.problem is not None]
    assert len(items) == 12 and len(problems) == 1
    assert problems[0].origin.endswith(f"/instances/{last}")
    assert problems[0].problem == "not retrieved: HTTP 500 Internal Server Error (5 attempts)"
    summary = importer.last_summary
    assert summary is not None and not summary.complete
    assert summary.lines() == [
        "INCOMPLETE: CT Axial: 11 of 12 instances, 1 failed",
        "run the same import again to fetch what is missing",
    ]


def sop_of(f: Path) -> str:
    return str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)


def test_unreachable_server_is_a_clear_error():
    port = free_port(HTTP_PORTS, set())  # nothing listens there
    importer = DicomwebImporter()
    url = f"http://127.0.0.1:{port}/dicom-web"
    with pytest.raises(DicomwebError, match=r"cannot reach the server: connection refused \(5 "):
        list(importer.iter_items(url, ImportOptions(extra={"timeout": 2})))


# -- search -----------------------------------------------------------------------------------
def test_search_lists_studies_without_downloading(orthanc, dw_data):
    r = run_ownscan("search", orthanc.url, "--json", env=CREDS)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["url"] == orthanc.url
    by_uid = {s["study_uid"]: s for s in found["studies"]}
    a = by_uid[dw_data.study_a]
    assert a["patient_id"] == "P1" and a["patient_name"] == "Doe^Jane"
    assert a["date"] == "2024-03-05" and a["description"] == "CT Thorax"
    assert a["modalities"] == ["CT"]
    assert (a["series_count"], a["instance_count"]) == (3, 23)
    mr = next(s for s in found["studies"] if s["patient_id"] == "02")
    assert (mr["modalities"], mr["series_count"], mr["instance_count"]) == (["MR"], 1, 12)
    assert [s["date"] for s in found["studies"]] == sorted(s["date"] for s in found["studies"])
    assert len(found["studies"]) == 3

    table = run_ownscan("search", orthanc.url, "--patient", "P1", env=CREDS)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "PATIENT", "NAME", "DATE", "DESCRIPTION", "MODALITIES", "SERIES", "IMAGES", "STUDY", "UID"
    ]  # fmt: skip
    # the name as people write it (display_name), not DICOM's Doe^Jane
    assert lines[1].split()[:4] == ["P1", "Jane", "Doe", "2019-06-01"]
    assert lines[2].split()[:4] == ["P1", "Jane", "Doe", "2024-03-05"]
    assert dw_data.study_a in lines[2] and "23" in lines[2].split()
    assert lines[-1] == f"2 studies on {orthanc.url}"

    since = run_ownscan("search", orthanc.url, "--since", "2020-01-01", "--patient", "P1",
                        env=CREDS)  # fmt: skip
    assert since.returncode == 0 and since.stdout.count("P1  ") == 1
